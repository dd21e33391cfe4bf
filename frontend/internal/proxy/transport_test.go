package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests below hold the transport to the backend to what a hand-written
// HTTP/1.1 client got wrong before: each runs a real server on loopback
// (a raw listener where the server has to misbehave).

// A POST whose body can be replayed (GetBody set) is still not sent again
// when the server read its head, and so may have acted on it, then reset
// the connection: the handler sees it at most once.
func TestTransportDoesNotResendAPostTheServerStartedReading(t *testing.T) {
	var arrivals atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet { // warms up the keep-alive connection
			_, _ = io.WriteString(w, "ok")
			return
		}
		if arrivals.Add(1) > 1 { // a resent request: answer it, the test fails
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, "done twice")
			return
		}
		_, _ = io.CopyN(io.Discard, r.Body, 64<<10)
		resetConnection(t, w)
	}))
	defer srv.Close()
	client := &http.Client{Transport: NewTransport()}
	defer client.CloseIdleConnections()

	get(t, client, srv.URL+"/warm-up")
	ctx, reused := traceReuse(testContext(t))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/chat", bytes.NewReader(make([]byte, 8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody == nil {
		t.Fatal("the request is not replayable: GetBody is nil")
	}
	resp, err := client.Do(req)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("answer %d %q", resp.StatusCode, body)
	}
	if !reused.Load() {
		t.Fatal("the POST did not go over the warmed-up keep-alive connection")
	}
	if n := arrivals.Load(); n != 1 {
		t.Fatalf("the POST reached the handler %d times, want exactly once (err %v)", n, err)
	}
	if err == nil {
		t.Fatal("the reset POST succeeded: it was sent again")
	}
}

// After a 101 Switching Protocols answer the connection belongs to the new
// protocol: it never goes back to the pool, and the next request opens a new
// connection instead of waiting forever on the switched one.
func TestTransportNeverPoolsASwitchedConnection(t *testing.T) {
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if n == 1 { // the first connection switches, then speaks no HTTP
				_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: duckgate-test\r\n\r\n")
				_, _ = io.Copy(io.Discard, br)
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	client := &http.Client{Transport: NewTransport()}
	defer client.CloseIdleConnections()

	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, srv.url+"/switch", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "duckgate-test")
	switched, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer switched.Body.Close() // the upgraded connection, in use meanwhile
	if switched.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", switched.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ctx, reused := traceReuse(ctx)
	next, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.url+"/next", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(next)
	if err != nil {
		t.Fatalf("the request after a 101 failed (%d connections accepted): %v", srv.accepted.Load(), err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" || reused.Load() || srv.accepted.Load() != 2 {
		t.Fatalf("answer %q, reused %v, %d connections accepted; want ok over a second connection",
			body, reused.Load(), srv.accepted.Load())
	}
}

// Idle connections the server closes are closed on our side too, at once
// (no socket left in CLOSE_WAIT), and later requests go over new ones.
func TestTransportDropsIdleConnectionsTheServerClosed(t *testing.T) {
	const parallel = 4
	var arrived sync.WaitGroup
	arrived.Add(parallel)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/parallel" {
			arrived.Done()
			<-release // all four are in flight at once: four connections
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	transport := NewTransport()
	conns := trackConns(transport)
	client := &http.Client{Transport: transport}
	defer client.CloseIdleConnections()

	var done sync.WaitGroup
	for range parallel {
		done.Go(func() { get(t, client, srv.URL+"/parallel") })
	}
	arrived.Wait()
	close(release)
	done.Wait()
	if n := conns.opened.Load(); n != parallel {
		t.Fatalf("%d connections opened, want %d", n, parallel)
	}

	srv.CloseClientConnections() // the server ends its idle keep-alives
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	deadline := time.Now().Add(5 * time.Second)
	for conns.closed.Load() < parallel || closeWaitTo(t, port) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the server closed them, %d of %d idle connections are still open; %d sockets in CLOSE_WAIT",
				parallel-conns.closed.Load(), parallel, closeWaitTo(t, port))
		}
		time.Sleep(10 * time.Millisecond)
	}

	for i := range parallel {
		ctx, reused := traceReuse(testContext(t))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/after", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d after the server closed the idle connections: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if i == 0 && reused.Load() {
			t.Fatal("the first request after the close reused a connection")
		}
	}
	if n := conns.opened.Load(); n != parallel+1 {
		t.Errorf("%d connections opened in all, want %d (the later requests share one new connection)", n, parallel+1)
	}
}

// Helpers of the transport tests.

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func get(t *testing.T, client *http.Client, url string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, url, nil)
	if err != nil {
		t.Error(err)
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// traceReuse records whether the request went over a reused connection.
func traceReuse(ctx context.Context) (context.Context, *atomic.Bool) {
	var reused atomic.Bool
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused.Store(info.Reused) },
	}), &reused
}

// resetConnection takes the handler's connection over and resets it (RST,
// not FIN), as a crashing or overloaded server does.
func resetConnection(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	conn.Close()
}

// rawServer accepts connections on loopback and hands each, numbered from
// 1, to serve.
type rawServer struct {
	url      string
	accepted atomic.Int32
}

func newRawServer(t *testing.T, serve func(n int, c net.Conn, br *bufio.Reader)) *rawServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &rawServer{url: "http://" + ln.Addr().String()}
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(srv.accepted.Add(1))
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			conns.Go(func() {
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			})
		}
	}()
	return srv
}

// connCounts counts the connections a transport opened and closed.
type connCounts struct{ opened, closed atomic.Int32 }

// trackConns wraps the transport's dialer so that its connections count
// their opening and closing.
func trackConns(transport *http.Transport) *connCounts {
	counts := &connCounts{}
	dial := transport.DialContext
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		counts.opened.Add(1)
		return &countedConn{Conn: c, counts: counts}, nil
	}
	return counts
}

type countedConn struct {
	net.Conn
	counts *connCounts
	once   sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.counts.closed.Add(1) })
	return c.Conn.Close()
}

// closeWaitTo counts this machine's IPv4 TCP sockets in CLOSE_WAIT whose
// peer is port on loopback: connections the server closed and we did not.
// Where /proc cannot tell, it counts none (the closed connections are
// still counted by trackConns).
func closeWaitTo(t *testing.T, port int) int {
	data, err := os.ReadFile("/proc/self/net/tcp")
	if err != nil {
		t.Logf("cannot count sockets in CLOSE_WAIT: %v", err)
		return 0
	}
	const closeWait = "08"
	peer := fmt.Sprintf("0100007F:%04X", port)
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.EqualFold(f[2], peer) && f[3] == closeWait {
			n++
		}
	}
	return n
}
