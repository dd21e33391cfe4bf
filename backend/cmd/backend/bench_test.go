package main

import (
	"context"
	"encoding/json"
	"fmt"
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
	a := newTestApp(b, map[string]string{"LOG_LEVEL": "error", realHashing: "1"}) // BenchmarkLogin measures the real hash
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
		next, err := refreshOnce(h, token)
		if err != nil {
			b.Fatal(err)
		}
		token = next
	}
}

// BenchmarkRefreshParallel rotates many sessions at once, which is where
// group commit pays: many rotations share one commit.
func BenchmarkRefreshParallel(b *testing.B) {
	h, _ := benchApp(b)
	srvPairs := make(chan string, 64)
	for i := 0; i < 64; i++ {
		pair, err := postJSON[api.TokenPair](h, "/auth/login", `{"email":"bench@example.com","password":"bench-password"}`)
		if err != nil {
			b.Fatal(err)
		}
		srvPairs <- pair.RefreshToken
	}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		token := <-srvPairs
		for pb.Next() {
			next, err := refreshOnce(h, token)
			if err != nil {
				b.Error(err)
				return
			}
			token = next
		}
	})
}

// refreshOnce rotates token through the router and returns its successor.
func refreshOnce(h http.Handler, token string) (string, error) {
	pair, err := postJSON[api.TokenPair](h, "/auth/refresh", `{"refresh_token":"`+token+`"}`)
	return pair.RefreshToken, err
}

// postJSON sends a JSON body through the router and decodes a 200 answer.
func postJSON[T any](h http.Handler, path, body string) (T, error) {
	var out T
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		return out, fmt.Errorf("POST %s: status %d: %s", path, w.Code, w.Body)
	}
	return out, json.Unmarshal(w.Body.Bytes(), &out)
}

// BenchmarkLogin is one sign-in through the router: dominated by the
// argon2id hash, which is the point.
func BenchmarkLogin(b *testing.B) {
	h, _ := benchApp(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := postJSON[api.TokenPair](h, "/auth/login", `{"email":"bench@example.com","password":"bench-password"}`); err != nil {
			b.Fatal(err)
		}
	}
}
