package main

import (
	"context"
	"io"
	"net"
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
