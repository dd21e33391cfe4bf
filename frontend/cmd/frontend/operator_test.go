package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestHealthcheckFailsUntilTheFrontendIsReady(t *testing.T) {
	addr := freeAddr(t)
	env := map[string]string{"FRONTEND_ADDR": addr, "BACKEND_URL": "http://127.0.0.1:1"}
	getenv := func(k string) string { return env[k] }

	// Nothing listens yet.
	if err := run(context.Background(), []string{"healthcheck"}, getenv, &lockedBuffer{}); err == nil {
		t.Fatal("healthcheck passed with no frontend running")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, getenv, &lockedBuffer{}) }()
	waitHealthz(t, addr)

	// Alive, but its backend is unreachable: not ready, so the check fails
	// and names the status.
	err := run(context.Background(), []string{"healthcheck"}, getenv, &lockedBuffer{})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("healthcheck with the backend down: %v, want a 503 failure", err)
	}
	cancel()
	<-done
}

// The probe gives up on a server that accepts and never answers, within
// its own bound, without the caller's context having a deadline.
func TestHealthcheckGivesUpOnASilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	getenv := func(k string) string {
		return map[string]string{"FRONTEND_ADDR": ln.Addr().String(), "BACKEND_URL": "http://127.0.0.1:1"}[k]
	}
	began := time.Now()
	err = run(context.Background(), []string{"healthcheck"}, getenv, &lockedBuffer{})
	took := time.Since(began)
	if err == nil || took < probeTimeout || took > probeTimeout+2*time.Second {
		t.Fatalf("healthcheck returned %v after %v, want a failure after %v", err, took, probeTimeout)
	}
}

func waitHealthz(t *testing.T, addr string) {
	t.Helper()
	for range 200 {
		if resp, err := testClient.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("frontend on %s never answered /healthz", addr)
}

func TestDialableTurnsWildcardsIntoLoopback(t *testing.T) {
	for listen, want := range map[string]string{
		"0.0.0.0:8080":   "127.0.0.1:8080",
		":8080":          "127.0.0.1:8080",
		"[::]:8080":      "[::1]:8080",
		"10.1.2.3:8080":  "10.1.2.3:8080",
		"127.0.0.1:9000": "127.0.0.1:9000",
	} {
		got, err := dialable(listen)
		if err != nil || got != want {
			t.Errorf("dialable(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
	if _, err := dialable("8080"); err == nil {
		t.Error("dialable accepted an address without a port")
	}
}

func TestEnvPrintsTheVariablesAsJSON(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"env"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	var vars []struct {
		Name, Default, Help string
		Secret              bool
	}
	if err := json.Unmarshal(out.Bytes(), &vars); err != nil {
		t.Fatalf("env output is not a JSON array: %v\n%s", err, out.String())
	}
	// The contract's frontend variables, with the contract's defaults.
	want := map[string]string{
		"FRONTEND_ADDR": "127.0.0.1:8080",
		"BACKEND_URL":   "http://127.0.0.1:8000",
		"COOKIE_SECURE": "false",
	}
	for _, v := range vars {
		if v.Help == "" {
			t.Errorf("%s has no help text", v.Name)
		}
		if def, ok := want[v.Name]; ok {
			if v.Default != def {
				t.Errorf("%s default %q, want %q", v.Name, v.Default, def)
			}
			delete(want, v.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("env lacks %v", want)
	}
}

func TestVersionAndUnknownCommands(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if want := "frontend " + version + " (commit " + commit + ")\n"; out.String() != want {
		t.Errorf("--version printed %q, want %q", out.String(), want)
	}
	err := run(context.Background(), []string{"sevre"}, func(string) string { return "" }, &out)
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "usage:") {
		t.Errorf("unknown command: %v, want a usage error", err)
	}
}

// Every command answers -h/--help with its usage on stdout and success,
// and does nothing else: serve does not listen, healthcheck does not probe.
func TestEveryCommandPrintsItsHelp(t *testing.T) {
	// A listener that fails the test if anything connects to it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	probed := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			probed <- struct{}{}
			c.Close()
		}
	}()
	getenv := func(k string) string { return map[string]string{"FRONTEND_ADDR": ln.Addr().String()}[k] }

	for _, args := range [][]string{
		{"serve", "--help"}, {"healthcheck", "--help"}, {"healthcheck", "-h"}, {"env", "-help"}, {"version", "--help"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, getenv, &out); err != nil {
			t.Errorf("%q: %v, want success", args, err)
		}
		if want := "usage: frontend " + args[0] + "\n"; !strings.HasPrefix(out.String(), want) || len(out.String()) < len(want)+20 {
			t.Errorf("%q printed %q, want the command's usage", args, out.String())
		}
	}
	select {
	case <-probed:
		t.Fatal("a --help ran the command: something connected to FRONTEND_ADDR")
	case <-time.After(100 * time.Millisecond):
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, getenv, &out); err != nil || !strings.Contains(out.String(), "frontend healthcheck") {
		t.Errorf("--help: %v %q", err, out.String())
	}
	err = run(context.Background(), []string{"healthcheck", "--bogus"}, getenv, &out)
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "usage: frontend healthcheck") {
		t.Errorf("healthcheck --bogus: %v, want a usage error", err)
	}
}
