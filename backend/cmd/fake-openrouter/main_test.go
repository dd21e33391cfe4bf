package main

import (
	"bufio"
	"context"
	"encoding/json"
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
	go func() { done <- run(ctx, func(k string) string { return env[k] }, logWriter) }()

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
