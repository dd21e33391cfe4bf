package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/frontend/internal/session"
	"github.com/duckgate/duckgate/shared/api"
)

func token(id string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"EdDSA"}`)) + "." +
		enc(fmt.Appendf(nil, `{"exp":%d,"jti":%q}`, time.Now().Add(15*time.Minute).Unix(), id)) + ".sig"
}

// frontend wires the proxy behind a session loader, as the server does.
type frontend struct {
	*httptest.Server
	refreshes atomic.Int32
}

func startFrontend(t testing.TB, backend *httptest.Server, replayBytes int64) *frontend {
	t.Helper()
	return startFrontendWith(t, backend, Options{ReplayBytes: replayBytes})
}

func startFrontendWith(t testing.TB, backend *httptest.Server, opts Options) *frontend {
	t.Helper()
	f := &frontend{}
	m := session.NewManager(func(ctx context.Context, rt, ip, ua string) (*api.TokenPair, error) {
		f.refreshes.Add(1)
		if rt != "refresh-1" {
			return nil, &api.Problem{Status: 401}
		}
		return &api.TokenPair{AccessToken: token("fresh"), RefreshToken: "refresh-2", ExpiresIn: 900}, nil
	}, session.Options{})
	u, _ := url.Parse(backend.URL)
	p := New(u, opts)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Load(w, r, "127.0.0.1")
		p.ServeHTTP(w, r.WithContext(session.NewContext(r.Context(), s)))
	}))
	t.Cleanup(f.Close)
	return f
}

func browserRequest(t *testing.T, method, url, body, access string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-ID", "req-42")
	// The session's cookies: tokens under the session's binding.
	const binding = "proxy-test-binding-000"
	req.AddCookie(&http.Cookie{Name: "dg_access", Value: binding + "~" + access})
	req.AddCookie(&http.Cookie{Name: "dg_refresh", Value: binding + "~refresh-1"})
	req.AddCookie(&http.Cookie{Name: "other", Value: "browser-only"})
	return req
}

func TestForwardsWithBearerAndWithoutBrowserCookies(t *testing.T) {
	var got *http.Request
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		http.SetCookie(w, &http.Cookie{Name: "backend", Value: "x"})
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer backend.Close()
	fe := startFrontend(t, backend, 1<<20)
	access := token("a1")

	resp, err := fe.Client().Do(browserRequest(t, "GET", fe.URL+"/api/ai/models?modality=text", "", access))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)

	if resp.StatusCode != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if got.URL.Path != "/ai/models" || got.URL.RawQuery != "modality=text" {
		t.Errorf("backend got %s?%s, want /ai/models?modality=text", got.URL.Path, got.URL.RawQuery)
	}
	if h := got.Header.Get("Authorization"); h != "Bearer "+access {
		t.Errorf("Authorization = %q, want the session's bearer token", h)
	}
	if c := got.Header.Get("Cookie"); c != "" {
		t.Errorf("browser cookies reached the backend: %q", c)
	}
	if id := got.Header.Get("X-Request-ID"); id != "req-42" {
		t.Errorf("X-Request-ID = %q, want req-42", id)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("backend cookies reached the browser: %q", sc)
	}
}

func TestStreamsEachEventAsItArrives(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Not text/event-stream: ReverseProxy flushes those by itself; every
		// streamed type (video bytes too) must flow.
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release // the rest only after the browser has seen the first event
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer backend.Close()
	defer close(release)
	fe := startFrontend(t, backend, 1<<20)

	resp, err := fe.Client().Do(browserRequest(t, "POST", fe.URL+"/api/ai/chat", `{"stream":true}`, token("a")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != "data: first\n" {
			t.Fatalf("first line = %q", l)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the first event was held back by the proxy")
	}
}

func TestRetriesOnceAfterRefreshOn401(t *testing.T) {
	var bodies []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if r.Header.Get("Authorization") != "Bearer "+token("fresh") {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, `{"status":401}`, http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "created")
	}))
	defer backend.Close()
	fe := startFrontend(t, backend, 1<<20)

	// The access token looks valid to the frontend, but the backend rejects it.
	resp, err := fe.Client().Do(browserRequest(t, "POST", fe.URL+"/api/generate/image", `{"prompt":"duck"}`, token("stale")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "created" {
		t.Fatalf("got %d %q, want the retried request's 200", resp.StatusCode, body)
	}
	if len(bodies) != 2 || bodies[0] != `{"prompt":"duck"}` || bodies[1] != bodies[0] {
		t.Fatalf("backend bodies = %q, want the same body twice", bodies)
	}
	if n := fe.refreshes.Load(); n != 1 {
		t.Fatalf("refreshed %d times, want 1", n)
	}
	var rotated bool
	for _, c := range resp.Cookies() {
		if c.Name == "dg_refresh" && c.Value == "proxy-test-binding-000~refresh-2" && c.HttpOnly {
			rotated = true
		}
	}
	if !rotated {
		t.Fatalf("rotated refresh cookie not sent to the browser: %q", resp.Header.Values("Set-Cookie"))
	}
}

func TestLargeBodyIsStreamedAndNotRetried(t *testing.T) {
	var calls atomic.Int32
	var received atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n)
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer backend.Close()
	fe := startFrontend(t, backend, 16)

	big := strings.Repeat("x", 1000)
	resp, err := fe.Client().Do(browserRequest(t, "POST", fe.URL+"/api/generate/video/from-image", big, token("stale")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || calls.Load() != 1 || fe.refreshes.Load() != 0 {
		t.Fatalf("status %d, backend calls %d, refreshes %d; want the 401 passed on without a retry",
			resp.StatusCode, calls.Load(), fe.refreshes.Load())
	}
	if received.Load() != 1000 {
		t.Fatalf("backend received %d bytes, want 1000", received.Load())
	}
}

func TestTokenEndpointsAreNotExposed(t *testing.T) {
	var calls atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer backend.Close()
	fe := startFrontend(t, backend, 1<<20)

	for _, path := range []string{"/api/auth/login", "/api/auth/refresh"} {
		resp, err := fe.Client().Do(browserRequest(t, "POST", fe.URL+path, `{}`, token("a")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", path, resp.StatusCode)
		}
	}
	if calls.Load() != 0 {
		t.Fatal("token endpoint call reached the backend")
	}
}

// Only the API goes through: the backend's metrics, docs, OpenAPI document
// and health endpoints are for operators, and stay off the browser's side.
func TestOnlyTheAPIIsForwarded(t *testing.T) {
	var reached []string
	var mu sync.Mutex
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.URL.Path)
		mu.Unlock()
		_, _ = io.WriteString(w, "backend")
	}))
	defer backend.Close()
	fe := startFrontend(t, backend, 1<<20)

	for _, path := range []string{
		"/api/metrics", "/api/docs", "/api/openapi.json", "/api/healthz", "/api/readyz",
		"/api/.well-known/jwks.json", "/api/", "/api/v1/chat/completions", "/api/METRICS",
		"/api/users/../metrics", "/api/users/%2e%2e/metrics", "/api/users%2F..%2Fmetrics", "/api/ai/./../docs",
		"/api//metrics", "/api/users//me", "/api/userss/me",
	} {
		req := browserRequest(t, "GET", fe.URL+"/x", "", token("a"))
		req.URL.Opaque = path // sent exactly as written, dots and all
		resp, err := fe.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p api.Problem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || p.Status != http.StatusNotFound || p.Type != api.TypeNotFound {
			t.Errorf("%s: %d %+v, want a 404 problem", path, resp.StatusCode, p)
		}
	}
	if len(reached) != 0 {
		t.Fatalf("the backend was reached at %q", reached)
	}

	for _, path := range []string{"/api/users/me", "/api/admin/stats", "/api/ai/models", "/api/generate/video/abc/content", "/api/users/me/"} {
		resp, err := fe.Client().Do(browserRequest(t, "GET", fe.URL+path, "", token("a")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d, want it forwarded", path, resp.StatusCode)
		}
	}
	if len(reached) != 5 {
		t.Fatalf("backend reached at %q, want the five API paths", reached)
	}
}

func TestUnreachableBackendIsAProblem(t *testing.T) {
	backend := httptest.NewServer(http.NotFoundHandler())
	fe := startFrontend(t, backend, 1<<20)
	backend.Close()

	resp, err := fe.Client().Do(browserRequest(t, "GET", fe.URL+"/api/users/me", "", token("a")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 502 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(body), "unreachable") {
		t.Fatalf("got %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || p.Type != api.TypeUpstream || p.Title != "Bad Gateway" ||
		p.Status != 502 || p.RequestID != "req-42" || p.Detail != "The service is unreachable right now. Try again in a moment." {
		t.Fatalf("problem %+v (%v), want the proxy's own problem in the backend's shape", p, err)
	}
}

func TestBackendHeadersReplaceTheFrontendDefaults(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		_, _ = io.WriteString(w, "video bytes")
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	p := New(u, Options{})
	fe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store") // the pages' default
		w.Header().Set("X-Content-Type-Options", "nosniff")
		p.ServeHTTP(w, r)
	}))
	defer fe.Close()

	resp, err := fe.Client().Get(fe.URL + "/api/generate/video/1/content")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Values("Cache-Control"); len(got) != 1 || got[0] != "private, max-age=60" {
		t.Errorf("Cache-Control = %q, want only the backend's", got)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("the frontend's own headers must stay when the backend does not set them")
	}
}

func TestHeadersOfASlowStartingStreamAreNotHeldBack(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush() // headers now, the first event much later
		<-release
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer backend.Close()
	defer close(release)
	fe := startFrontend(t, backend, 1<<20)

	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := fe.Client().Do(browserRequest(t, "POST", fe.URL+"/api/ai/chat", `{"stream":true}`, token("a")))
		if err == nil {
			answered <- resp
		}
	}()
	select {
	case resp := <-answered:
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the headers waited for the first event")
	}
}

// recordingConn keeps what each Write to the backend carried.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// A request and its (buffered) body leave in one write: sent apart, the
// backend waits a second round on the socket before it can act, which a
// busy machine turns into a late first event.
func TestRequestHeadersAndBodyLeaveInOneWrite(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer backend.Close()
	var conns []*recordingConn
	var mu sync.Mutex
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rc := &recordingConn{Conn: c}
		mu.Lock()
		conns = append(conns, rc)
		mu.Unlock()
		return rc, nil
	}
	transport := NewTransport()
	transport.DialContext = dial
	fe := startFrontendWith(t, backend, Options{ReplayBytes: 1 << 20, Transport: transport})

	body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hello"}]}`
	resp, err := fe.Client().Do(browserRequest(t, "POST", fe.URL+"/api/ai/chat", body, token("a")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 || len(conns[0].writes) == 0 {
		t.Fatalf("want one backend connection with writes, got %d", len(conns))
	}
	first := conns[0].writes[0]
	if !bytes.Contains(first, []byte("\r\n\r\n"+body)) {
		t.Errorf("the first write to the backend does not carry the body; %d writes, first: %q", len(conns[0].writes), first)
	}
}

// recordingListener hands out connections that keep their writes.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*recordingConn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &recordingConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, rc)
	l.mu.Unlock()
	return rc, nil
}

// The browser gets the response headers and the first event in one write,
// so it wakes once for its first event, not twice — also when the backend
// sent its headers a moment before the event.
func TestResponseHeadersLeaveWithTheFirstEvent(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(headerFlushDelay / 10)
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
	}))
	defer backend.Close()
	defer close(release)
	m := session.NewManager(func(context.Context, string, string, string) (*api.TokenPair, error) {
		return nil, &api.Problem{Status: 401}
	}, session.Options{})
	u, _ := url.Parse(backend.URL)
	p := New(u, Options{ReplayBytes: 1 << 20})
	fe := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.ServeHTTP(w, r.WithContext(session.NewContext(r.Context(), m.Load(w, r, "127.0.0.1"))))
	}))
	ln := &recordingListener{Listener: fe.Listener}
	fe.Listener = ln
	fe.Start()
	defer fe.Close()

	resp, err := fe.Client().Do(browserRequest(t, "POST", fe.URL+"/api/ai/chat", `{"stream":true}`, token("a")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, _ := bufio.NewReader(resp.Body).ReadString('\n'); line != "data: first\n" {
		t.Fatalf("first line %q", line)
	}
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if len(ln.conns) != 1 {
		t.Fatalf("want one browser connection, got %d", len(ln.conns))
	}
	c := ln.conns[0]
	c.mu.Lock()
	defer c.mu.Unlock()
	if first := c.writes[0]; !bytes.HasPrefix(first, []byte("HTTP/1.1 200")) || !bytes.Contains(first, []byte("data: first")) {
		t.Errorf("headers and first event left apart; %d writes, first: %q", len(c.writes), first)
	}
}
