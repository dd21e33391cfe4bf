package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// benchGateway is a backend router on a real DuckDB file talking to the fake
// OpenRouter on loopback, with one signed-in user's access token.
func benchGateway(b *testing.B) (http.Handler, string) {
	b.Helper()
	fake := fakeopenrouter.New(fakeopenrouter.Options{APIKey: testAPIKey})
	fakeSrv := httptest.NewServer(fake.Handler())
	b.Cleanup(func() { fake.Close(); fakeSrv.Close() })
	a := newTestApp(b, aiEnv(fakeSrv.URL, "LOG_LEVEL", "error"))
	srv := httptest.NewServer(a.router)
	b.Cleanup(srv.Close)
	c := client.New(srv.URL)
	ctx := context.Background()
	if _, err := c.Register(ctx, api.RegisterRequest{Email: "ai-bench@example.com", Password: "bench-password"}); err != nil {
		b.Fatal(err)
	}
	pair, err := c.Login(ctx, api.LoginRequest{Email: "ai-bench@example.com", Password: "bench-password"})
	if err != nil {
		b.Fatal(err)
	}
	return a.router, pair.AccessToken
}

// chatBenchRequest is the load tool's chat request: one short user message.
func chatBenchRequest(token string, stream bool) *http.Request {
	body := `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"bench bench bench"}]}`
	if stream {
		body = `{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"bench bench bench"}]}`
	}
	req := httptest.NewRequest(http.MethodPost, "/ai/chat", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// reportCPU reports the process CPU time per operation from start: on a
// shared machine it is steadier than wall time. It includes the in-process
// fake's share, the same for every version of the gateway.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((processCPU(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU is the user and system CPU time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAIChat is one non-streaming chat through the whole router and the
// upstream client, the fake answering on loopback: what the gateway adds.
func BenchmarkAIChat(b *testing.B) {
	h, token := benchGateway(b)
	b.ReportAllocs()
	defer reportCPU(b, processCPU(b))
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, chatBenchRequest(token, false))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkAIChatParallel is the same under concurrency: connection reuse
// to upstream and shared locks show here.
func BenchmarkAIChatParallel(b *testing.B) {
	h, token := benchGateway(b)
	b.ReportAllocs()
	b.SetParallelism(8)
	defer reportCPU(b, processCPU(b))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, chatBenchRequest(token, false))
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
}

// BenchmarkAIChatStream is one streamed chat (no pause between chunks).
func BenchmarkAIChatStream(b *testing.B) {
	h, token := benchGateway(b)
	b.ReportAllocs()
	defer reportCPU(b, processCPU(b))
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, chatBenchRequest(token, true))
		if w.Code != http.StatusOK || !bytes.HasSuffix(w.Body.Bytes(), []byte("data: [DONE]\n\n")) {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
