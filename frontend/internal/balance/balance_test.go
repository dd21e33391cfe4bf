package balance

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBackend answers /readyz with ready (200 or 503) and counts every
// other call; hangUp makes it close API connections without answering (a
// crash after the request arrived).
type fakeBackend struct {
	srv    *httptest.Server
	name   string
	ready  atomic.Bool
	hangUp atomic.Bool
	calls  atomic.Int32
	hosts  chan string
}

func newFake(t *testing.T, name string) *fakeBackend {
	t.Helper()
	f := &fakeBackend{name: name, hosts: make(chan string, 100)}
	f.ready.Store(true)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			if !f.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		f.calls.Add(1)
		select {
		case f.hosts <- r.Host:
		default:
		}
		if f.hangUp.Load() {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		}
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, f.name+" "+r.Method+" "+r.URL.Path+" "+string(body))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBackend) url() *url.URL { u, _ := url.Parse(f.srv.URL); return u }

// deadURL is an address nobody listens on: dialing it fails at once.
func deadURL(t *testing.T) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return &url.URL{Scheme: "http", Host: addr}
}

func newPool(t *testing.T, urls []*url.URL, opts Options) *Pool {
	t.Helper()
	if opts.ProbeEvery == 0 {
		opts.ProbeEvery = time.Hour // tests that need probes set their own
	}
	p := New(urls, &http.Transport{}, opts)
	t.Cleanup(p.Close)
	return p
}

func call(t *testing.T, p *Pool, method, path, body string) (string, error) {
	t.Helper()
	// The base host is a placeholder: the pool picks the backend.
	req, err := http.NewRequest(method, "http://backend.invalid"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	}
	resp, err := (&http.Client{Transport: p}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

func TestCallsGoRoundRobinWithTheirOwnPathAndHost(t *testing.T) {
	a, b := newFake(t, "a"), newFake(t, "b")
	p := newPool(t, []*url.URL{a.url(), b.url()}, Options{})
	for i := range 10 {
		got, err := call(t, p, "POST", "/users/me", "x")
		if err != nil || !strings.HasSuffix(got, "POST /users/me x") {
			t.Fatalf("call %d: %q %v", i, got, err)
		}
	}
	if a.calls.Load() != 5 || b.calls.Load() != 5 {
		t.Fatalf("calls a=%d b=%d, want 5 each", a.calls.Load(), b.calls.Load())
	}
	if host := <-b.hosts; host != b.url().Host {
		t.Fatalf("Host header %q sent to %s", host, b.url().Host)
	}
}

// A backend nobody answers at: every call still succeeds (a POST too: it
// never left), and the dead one is out after FailAfter failures.
func TestADeadBackendIsSkippedAndTakenOut(t *testing.T) {
	a, dead := newFake(t, "a"), deadURL(t)
	p := newPool(t, []*url.URL{dead, a.url()}, Options{FailAfter: 2})
	for i := range 6 {
		method := []string{"GET", "POST"}[i%2]
		if got, err := call(t, p, method, "/x", "body"); err != nil || !strings.HasPrefix(got, "a "+method) {
			t.Fatalf("call %d (%s): %q %v", i, method, got, err)
		}
	}
	if p.In()[dead.String()] {
		t.Fatal("the dead backend is still in")
	}
	if a.calls.Load() != 6 {
		t.Fatalf("the live backend got %d calls, want 6", a.calls.Load())
	}
}

// A backend that takes the request and dies before answering: a GET goes
// to the other backend, a POST does not (it may have been done).
func TestOnlyIdempotentCallsAreRetriedAfterTheRequestLeft(t *testing.T) {
	a, b := newFake(t, "a"), newFake(t, "b")
	a.hangUp.Store(true)
	p := newPool(t, []*url.URL{a.url(), b.url()}, Options{FailAfter: 100})
	for range 10 {
		if got, err := call(t, p, "GET", "/y", ""); err != nil || !strings.HasPrefix(got, "b GET") {
			t.Fatalf("GET: %q %v", got, err)
		}
	}
	postFailures := 0
	for range 10 {
		if _, err := call(t, p, "POST", "/auth/refresh", "token"); err != nil {
			postFailures++
		}
	}
	// Half the POSTs went to a first: lost, and not repeated on b.
	if postFailures != 5 || b.calls.Load() != 10+5 || a.calls.Load() != 5+5 {
		t.Fatalf("a got %d calls, b %d; %d POSTs failed (want 10, 15, 5)", a.calls.Load(), b.calls.Load(), postFailures)
	}
}

// The probes take a backend out when its /readyz fails and put it back when
// it answers 200 again.
func TestProbesFollowReadiness(t *testing.T) {
	a, b := newFake(t, "a"), newFake(t, "b")
	p := newPool(t, []*url.URL{a.url(), b.url()}, Options{ProbeEvery: 10 * time.Millisecond})
	b.ready.Store(false)
	waitFor(t, func() bool { return !p.In()[b.url().String()] })
	before := b.calls.Load()
	for range 6 {
		if _, err := call(t, p, "GET", "/z", ""); err != nil {
			t.Fatal(err)
		}
	}
	if b.calls.Load() != before {
		t.Fatal("an out backend got calls")
	}
	b.ready.Store(true)
	waitFor(t, func() bool { return p.In()[b.url().String()] })
}

// With every backend out, calls are still tried, and one that works puts
// its backend back.
func TestWithEveryBackendOutCallsAreStillTried(t *testing.T) {
	a := newFake(t, "a")
	p := newPool(t, []*url.URL{a.url(), deadURL(t)}, Options{FailAfter: 1})
	for _, b := range p.backends {
		b.in.Store(false)
	}
	if got, err := call(t, p, "GET", "/w", ""); err != nil || !strings.HasPrefix(got, "a ") {
		t.Fatalf("call with all out: %q %v", got, err)
	}
	if !p.In()[a.url().String()] {
		t.Fatal("the backend that answered is not back in")
	}
}

// A caller that gives up does not count against the backend.
func TestACanceledCallIsNotTheBackendsFault(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer slow.Close()
	u, _ := url.Parse(slow.URL)
	p := newPool(t, []*url.URL{u, newFake(t, "b").url()}, Options{FailAfter: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for range 2 { // one of the two goes to the slow backend
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://backend.invalid/slow", nil)
		if resp, err := p.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	if !p.In()[u.String()] {
		t.Fatal("a canceled call took the backend out")
	}
}

// A body that cannot be produced again is never sent twice, even after a
// failed dial.
func TestAStreamedBodyIsNotRetried(t *testing.T) {
	b := newFake(t, "b")
	p := newPool(t, []*url.URL{deadURL(t), b.url()}, Options{})
	p.turn.Store(^uint64(0)) // start at the dead one
	req, _ := http.NewRequest("POST", "http://backend.invalid/upload", io.NopCloser(bytes.NewReader([]byte("stream"))))
	req.GetBody = nil
	if _, err := p.RoundTrip(req); err == nil {
		t.Fatal("a streamed body was sent to a second backend")
	}
	if b.calls.Load() != 0 {
		t.Fatal("the second backend got the call")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
