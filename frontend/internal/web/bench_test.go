package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkProxiedCall is one signed-in browser call through the whole
// frontend (middleware, session, CSRF, proxy) to a backend that answers at
// once: the frontend's own cost per /api request, for profiling.
func BenchmarkProxiedCall(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/auth/login" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"`+testAccess+`","refresh_token":"`+testRefresh+`","token_type":"bearer","expires_in":900}`)
			return
		}
		if r.Method == http.MethodPost {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: {\"choices\":[]}\n\n")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"u1","email":"duck@example.com","role":"user"}`)
	}))
	b.Cleanup(backend.Close)
	fe := startFrontend(b, backend.URL)
	cookie, csrf := sessionCookies(b, fe.URL)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	call := func(b *testing.B, method, path, body string) {
		req, _ := http.NewRequest(method, fe.URL+path, strings.NewReader(body))
		req.Header.Set("Cookie", cookie)
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s %s: status %d", method, path, resp.StatusCode)
		}
	}
	b.Run("GET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			call(b, http.MethodGet, "/api/users/me", "")
		}
	})
	b.Run("POST-stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			call(b, http.MethodPost, "/api/ai/chat", `{"model":"m","stream":true,"messages":[{"role":"user","content":"bench"}]}`)
		}
	})
}

// BenchmarkProfilePage renders GET /profile for a signed-in browser that
// accepts gzip, against a backend answering its two calls at once: the
// frontend's own cost per page, for profiling.
func BenchmarkProfilePage(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"u1","email":"duck@example.com","role":"user","created_at":"2026-01-01T00:00:00Z"}`)
	})
	mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"`+testAccess+`","refresh_token":"`+testRefresh+`","token_type":"bearer","expires_in":900}`)
	})
	mux.HandleFunc("GET /users/me/sessions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"items":[{"id":"s1","created_at":"2026-01-01T00:00:00Z","last_used_at":"2026-01-02T00:00:00Z","user_agent":"Mozilla/5.0","ip":"127.0.0.1","current":true}]}`)
	})
	backend := httptest.NewServer(mux)
	b.Cleanup(backend.Close)
	fe := startFrontend(b, backend.URL)
	cookie, _ := sessionCookies(b, fe.URL)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, fe.URL+"/profile", nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
			b.Fatalf("status %d, encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
	}
}

// sessionCookies signs a browser in at base and returns its Cookie header
// and the CSRF token of its pages.
func sessionCookies(tb testing.TB, base string) (cookie, csrf string) {
	tb.Helper()
	c := signedIn(tb, base)
	csrf = pageToken(tb, c, base+"/")
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range c.Jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; "), csrf
}
