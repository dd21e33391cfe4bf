package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// The probe gives up on a server that accepts and never answers, within
// its own bound, without the caller's context having a deadline.
func TestHealthcheckGivesUpOnASilentServer(t *testing.T) {
	t.Parallel()
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
	getenv := func(k string) string { return map[string]string{"BACKEND_ADDR": ln.Addr().String()}[k] }
	began := time.Now()
	err = run(context.Background(), []string{"healthcheck"}, getenv, strings.NewReader(""), io.Discard, io.Discard)
	took := time.Since(began)
	if err == nil || took < probeTimeout || took > probeTimeout+2*time.Second {
		t.Fatalf("healthcheck returned %v after %v, want a failure after %v", err, took, probeTimeout)
	}
}

// Every command answers -h/--help with its usage and flags, on stdout,
// with success, and does nothing else (no database file appears, no probe
// is made); a wrong flag is still a usage error.
func TestEveryCommandPrintsItsHelp(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"DUCKDB_PATH": dir + "/app.duckdb", "BACKUP_DIR": dir + "/backups",
			"JWT_KEY_FILE": dir + "/key.pem", "BACKEND_ADDR": "127.0.0.1:1"}[k]
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"serve", "--help"}, []string{"usage: backend [serve]", "backend env"}},
		{[]string{"migrate", "--help"}, []string{"usage: backend migrate"}},
		{[]string{"migrate", "-h"}, []string{"usage: backend migrate"}},
		{[]string{"user", "--help"}, []string{"usage: backend user create|set-role", "set-role"}},
		{[]string{"user", "create", "--help"}, []string{"usage: backend user create", "-email", "-password-stdin", "-admin"}},
		{[]string{"user", "set-role", "-help"}, []string{"usage: backend user set-role", "-email", "-role"}},
		{[]string{"db", "--help"}, []string{"usage: backend db backup|restore", "restore"}},
		{[]string{"db", "backup", "--help"}, []string{"usage: backend db backup", "-out", "BACKUP_DIR"}},
		{[]string{"db", "restore", "--help"}, []string{"usage: backend db restore", "-from"}},
		{[]string{"env", "--help"}, []string{"usage: backend env"}},
		{[]string{"healthcheck", "--help"}, []string{"usage: backend healthcheck", "BACKEND_ADDR"}},
		{[]string{"version", "--help"}, []string{"usage: backend version"}},
		{[]string{"--help"}, []string{"backend user create", "-h/--help"}},
	} {
		var stdout, stderr strings.Builder
		err := run(context.Background(), tc.args, getenv, strings.NewReader(""), &stdout, &stderr)
		if err != nil {
			t.Errorf("%q: %v, want success", tc.args, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("%q: usage lacks %q:\n%s", tc.args, w, stdout.String())
			}
		}
		if strings.Contains(stdout.String(), "flag: help requested") || stderr.Len() > 0 {
			t.Errorf("%q: stdout %q, stderr %q", tc.args, stdout.String(), stderr.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("help created %v: a command ran", entries)
	}

	for _, args := range [][]string{{"db", "backup", "--from", "x"}, {"user", "create", "--bogus"}, {"migrate", "now"}} {
		err := run(context.Background(), args, getenv, strings.NewReader(""), io.Discard, io.Discard)
		var u usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), "usage: backend") {
			t.Errorf("%q: %v, want a usage error with the command's synopsis", args, err)
		}
	}
}
