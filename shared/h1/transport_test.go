package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is a loopback server that counts the connections it
// accepted.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Method", r.Method)
	fmt.Fprintf(w, "%s %s", r.URL.RequestURI(), body)
}

func do(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(got)
}

func TestRequestsReuseOneConnection(t *testing.T) {
	srv := newServer(t, echo)
	c := &http.Client{Transport: New(Options{})}
	for i := range 5 {
		_, got := do(t, c, http.MethodPost, fmt.Sprintf("%s/chat?n=%d", srv.URL, i), "hello")
		if want := fmt.Sprintf("/chat?n=%d hello", i); got != want {
			t.Fatalf("answer %q, want %q", got, want)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("5 sequential requests used %d connections, want 1", n)
	}
}

func TestChunkedAndEmptyBodiesKeepTheConnection(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			for i := range 3 {
				fmt.Fprintf(w, "part%d ", i)
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	})
	c := &http.Client{Transport: New(Options{})}
	if _, got := do(t, c, http.MethodGet, srv.URL+"/chunked", ""); got != "part0 part1 part2 " {
		t.Fatalf("chunked body %q", got)
	}
	if resp, got := do(t, c, http.MethodGet, srv.URL+"/empty", ""); resp.StatusCode != http.StatusNoContent || got != "" {
		t.Fatalf("204: %d %q", resp.StatusCode, got)
	}
	if resp, got := do(t, c, http.MethodHead, srv.URL+"/fixed", ""); resp.ContentLength != 5 || got != "" {
		t.Fatalf("HEAD: length %d, body %q", resp.ContentLength, got)
	}
	if _, got := do(t, c, http.MethodGet, srv.URL+"/fixed", ""); got != "hello" {
		t.Fatalf("fixed body %q", got)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("used %d connections, want 1", n)
	}
}

func TestConnectionClosedByServerIsNotReused(t *testing.T) {
	srv := newServer(t, echo)
	c := &http.Client{Transport: New(Options{})}
	do(t, c, http.MethodPost, srv.URL, "one")
	srv.CloseClientConnections() // the server drops its idle keep-alive
	time.Sleep(10 * time.Millisecond)
	// A POST is not retried after it was sent: it succeeds only because
	// the dead connection is noticed before it is used.
	if _, got := do(t, c, http.MethodPost, srv.URL, "two"); got != "/ two" {
		t.Fatalf("answer %q", got)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("used %d connections, want 2", n)
	}
}

func TestConnectionCloseHeaderIsHonoured(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	c := &http.Client{Transport: New(Options{})}
	do(t, c, http.MethodGet, srv.URL, "")
	do(t, c, http.MethodGet, srv.URL, "")
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("used %d connections, want 2 (the server asked to close)", n)
	}
}

// endless streams until the client goes away, and reports that it did.
func endless(gone chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer close(gone)
		for {
			if _, err := io.WriteString(w, "data: tick\n\n"); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

func TestCancellingTheContextEndsAStream(t *testing.T) {
	gone := make(chan struct{})
	srv := newServer(t, endless(gone))
	c := &http.Client{Transport: New(Options{})}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: tick\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	readErr := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); readErr <- err }()
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("reading a cancelled stream ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading went on after the context was cancelled")
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the server never saw the client go away")
	}
}

func TestClosingAnUnfinishedStreamReturnsAtOnce(t *testing.T) {
	gone := make(chan struct{})
	srv := newServer(t, endless(gone))
	c := &http.Client{Transport: New(Options{})}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { resp.Body.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close tried to read the endless stream to its end")
	}
	<-gone
	// The abandoned connection is not pooled: the next request works.
	srv.Config.Handler = http.HandlerFunc(echo)
	if _, got := do(t, c, http.MethodGet, srv.URL+"/next", ""); got != "/next " {
		t.Fatalf("next answer %q", got)
	}
}

func TestDeadlineWhileTheServerHangs(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := &http.Client{Transport: New(Options{})}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("x"))
	_, err := c.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want one wrapping context.DeadlineExceeded", err)
	}
}

// closeRecorder notices that RoundTrip closed the request body.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestDialFailureClosesTheRequestBody(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr, body)
	if _, err := New(Options{}).RoundTrip(req); err == nil {
		t.Fatal("RoundTrip to a closed port succeeded")
	}
	if !body.closed {
		t.Fatal("the request body was not closed")
	}
}

func TestTLS(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s over TLS %v", r.Proto, r.TLS != nil)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.EnableHTTP2 = true // the transport still speaks HTTP/1.1
	srv.StartTLS()
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := &http.Client{Transport: New(Options{TLSConfig: &tls.Config{RootCAs: roots}})}
	for range 3 {
		if _, got := do(t, c, http.MethodGet, srv.URL, ""); got != "HTTP/1.1 over TLS true" {
			t.Fatalf("answer %q", got)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("used %d connections, want 1", n)
	}
	// An untrusted certificate is refused.
	if _, err := New(Options{}).RoundTrip(httptestGet(t, srv.URL)); err == nil {
		t.Fatal("a certificate from an unknown authority was accepted")
	}
}

func httptestGet(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestIdlePoolIsBounded(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "ok")
	})
	tr := New(Options{MaxIdlePerHost: 2})
	c := &http.Client{Transport: tr}
	const parallel = 5
	done := make(chan error, parallel)
	for range parallel {
		go func() {
			resp, err := c.Get(srv.URL)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			done <- err
		}()
	}
	for srv.conns.Load() < parallel {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range parallel {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	tr.mu.Lock()
	idle := len(tr.idle[hostKey(httptestGet(t, srv.URL).URL)])
	tr.mu.Unlock()
	if idle != 2 {
		t.Fatalf("%d idle connections kept, want the bound of 2", idle)
	}
	tr.CloseIdleConnections()
	do(t, c, http.MethodGet, srv.URL, "")
	if n := srv.conns.Load(); n != parallel+1 {
		t.Fatalf("%d connections after closing the idle ones, want %d", n, parallel+1)
	}
}

func TestReadingPastTheEndKeepsReturningEOF(t *testing.T) {
	srv := newServer(t, echo)
	resp, err := (&http.Client{Transport: New(Options{})}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if n, err := resp.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after the end: %d, %v; want 0, EOF", n, err)
	}
}

func TestUsesProxyFollowsTheEnvironment(t *testing.T) {
	for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"} {
		t.Setenv(name, "")
	}
	upstream := httptestGet(t, "https://openrouter.ai/api/v1").URL
	if UsesProxy(upstream) {
		t.Fatal("a proxy was found with no proxy settings")
	}
	t.Setenv("HTTPS_PROXY", "http://proxy.internal:3128")
	if !UsesProxy(upstream) {
		t.Fatal("HTTPS_PROXY was not noticed")
	}
	t.Setenv("NO_PROXY", "openrouter.ai")
	if UsesProxy(upstream) {
		t.Fatal("NO_PROXY was not honoured")
	}
}

func TestEndlessResponseHeadersAreRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Filler: " + strings.Repeat("x", 1000) + "\r\n"
		for {
			if _, err := io.WriteString(c, line); err != nil {
				return // the client gave up
			}
		}
	}()
	_, err = New(Options{}).RoundTrip(httptestGet(t, "http://"+ln.Addr().String()))
	if !errors.Is(err, errHeadersTooLarge) {
		t.Fatalf("error %v, want the headers refused as too large", err)
	}
}

func TestAnEarlyAnswerToALargeUploadArrives(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" { // refuses without reading the body
			w.Header().Set("Connection", "close")
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		echo(w, r)
	})
	c := &http.Client{Transport: New(Options{})}
	big := strings.Repeat("x", 32<<20) // far more than the socket buffers hold
	resp, got := do(t, c, http.MethodPost, srv.URL+"/upload", big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(got, "too large") {
		t.Fatalf("answer %d %q, want the server's 413", resp.StatusCode, got)
	}
	// A large upload the server reads is sent whole and answered.
	_, got = do(t, c, http.MethodPost, srv.URL+"/echo", big[:1<<20])
	if len(got) != len("/echo ")+1<<20 {
		t.Fatalf("echo of a 1 MiB upload: %d bytes back", len(got))
	}
}
