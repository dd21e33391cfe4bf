package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// benchApp is a backend router on a real DuckDB file with one signed-in user.
func benchApp(b *testing.B) (http.Handler, *api.TokenPair) {
	b.Helper()
	a := newTestApp(b, map[string]string{"LOG_LEVEL": "error"})
	srv := httptest.NewServer(a.router)
	b.Cleanup(srv.Close)
	c := client.New(srv.URL)
	ctx := context.Background()
	if _, err := c.Register(ctx, api.RegisterRequest{Email: "bench@example.com", Password: "bench-password"}); err != nil {
		b.Fatal(err)
	}
	pair, err := c.Login(ctx, api.LoginRequest{Email: "bench@example.com", Password: "bench-password"})
	if err != nil {
		b.Fatal(err)
	}
	return a.router, pair
}

// BenchmarkUsersMe is the authorised hot path through the whole router: token
// check, session check and user lookup, all from memory.
func BenchmarkUsersMe(b *testing.B) {
	h, pair := benchApp(b)
	req := httptest.NewRequest("GET", "/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkRefresh rotates one session's refresh token over and over: one
// group-committed DuckDB transaction per rotation when run serially.
func BenchmarkRefresh(b *testing.B) {
	h, pair := benchApp(b)
	token := pair.RefreshToken
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/auth/refresh", strings.NewReader(`{"refresh_token":"`+token+`"}`))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		body := w.Body.String()
		i := strings.Index(body, `"refresh_token":"`) + len(`"refresh_token":"`)
		token = body[i : i+strings.IndexByte(body[i:], '"')]
	}
}

// BenchmarkRefreshParallel rotates many sessions at once, which is where
// group commit pays: many rotations share one commit.
func BenchmarkRefreshParallel(b *testing.B) {
	h, _ := benchApp(b)
	srvPairs := make(chan string, 64)
	for i := 0; i < 64; i++ {
		req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"email":"bench@example.com","password":"bench-password"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "10.0.0.1:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		body := w.Body.String()
		i := strings.Index(body, `"refresh_token":"`) + len(`"refresh_token":"`)
		srvPairs <- body[i : i+strings.IndexByte(body[i:], '"')]
	}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		token := <-srvPairs
		for pb.Next() {
			req := httptest.NewRequest("POST", "/auth/refresh", strings.NewReader(`{"refresh_token":"`+token+`"}`))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
			body := w.Body.String()
			i := strings.Index(body, `"refresh_token":"`) + len(`"refresh_token":"`)
			token = body[i : i+strings.IndexByte(body[i:], '"')]
		}
	})
}
