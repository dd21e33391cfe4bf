package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The binary serves the fake with the configured key, announces itself as a
// simulator in a JSON log line, and stops cleanly when asked.
func TestRunServesAndShutsDown(t *testing.T) {
	env := map[string]string{"FAKE_OPENROUTER_ADDR": "127.0.0.1:0", "FAKE_OPENROUTER_KEY": "secret-test-key",
		"FAKE_OPENROUTER_CHUNK_DELAY": "1ms"}
	logs, logWriter := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logWriter) }()

	lines := bufio.NewScanner(logs)
	if !lines.Scan() {
		t.Fatal("no log line")
	}
	var started struct {
		Msg     string `json:"msg"`
		BaseURL string `json:"base_url"`
	}
	if err := json.Unmarshal(lines.Bytes(), &started); err != nil || !strings.Contains(started.Msg, "SIMULATOR") {
		t.Fatalf("first log line %q (%v)", lines.Text(), err)
	}
	go func() { _, _ = io.Copy(io.Discard, logs) }()

	req, _ := http.NewRequest("GET", started.BaseURL+"/models", nil)
	req.Header.Set("Authorization", "Bearer secret-test-key")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /models with the configured key: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no graceful shutdown")
	}
}

func TestConfigRejectsNonsense(t *testing.T) {
	for name, value := range map[string]string{"FAKE_OPENROUTER_CHUNK_DELAY": "soon", "FAKE_OPENROUTER_VIDEO_POLLS": "0"} {
		if _, err := loadConfig(func(k string) string {
			if k == name {
				return value
			}
			return ""
		}); err == nil {
			t.Errorf("%s=%s accepted", name, value)
		}
	}
}

// -h prints the usage and serves nothing; an unknown argument is refused.
func TestHelpPrintsUsageInsteadOfServing(t *testing.T) {
	addr := "127.0.0.1:1" // would fail to listen: only help may succeed
	getenv := func(k string) string { return map[string]string{"FAKE_OPENROUTER_ADDR": addr}[k] }
	for _, arg := range []string{"-h", "--help", "-help", "help"} {
		var out strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := run(ctx, []string{arg}, getenv, &out)
		cancel()
		if err != nil || !strings.HasPrefix(out.String(), "usage: fake-openrouter") ||
			!strings.Contains(out.String(), "FAKE_OPENROUTER_ADDR") || !strings.Contains(out.String(), "SIMULATOR") {
			t.Errorf("%s: %v, printed %q", arg, err, out.String())
		}
	}
	err := run(context.Background(), []string{"--port=1"}, getenv, io.Discard)
	if !errors.Is(err, errUsage) {
		t.Errorf("unknown argument: %v, want a usage error", err)
	}
}
