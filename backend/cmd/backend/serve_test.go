package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMetricsOnASeparateListener runs the serve command with METRICS_ADDR:
// /metrics answers there, and 404 on the public listener.
func TestMetricsOnASeparateListener(t *testing.T) {
	// Not parallel: its ports are chosen free, then bound by the backend;
	// parallel tests binding ports meanwhile could take them.
	dir := t.TempDir()
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	env := map[string]string{"BACKEND_ADDR": addr, "METRICS_ADDR": metricsAddr, "LOG_LEVEL": "error",
		"DUCKDB_PATH": filepath.Join(dir, "app.duckdb"), "JWT_KEY_FILE": filepath.Join(dir, "jwt.pem")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, nil, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	get := func(url string) (int, string) {
		resp, err := hc.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if s, _ := get("http://" + addr + "/healthz"); s == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backend did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s, body := get("http://" + addr + "/metrics"); s != http.StatusNotFound || strings.Contains(body, "http_requests_total") {
		t.Fatalf("public /metrics: %d", s)
	}
	if s, body := get("http://" + metricsAddr + "/metrics"); s != 200 || !strings.Contains(body, `http_requests_total{method="GET",route="/healthz",status="200"}`) {
		t.Fatalf("metrics listener: %d %.200s", s, body)
	}
}
