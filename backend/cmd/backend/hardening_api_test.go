package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// loginFrom signs in through a proxy that says the browser is at ip.
func (ts *testServer) loginFrom(ip, email, password string) int {
	ts.t.Helper()
	body, _ := json.Marshal(api.LoginRequest{Email: email, Password: password})
	status, _, _ := ts.do("POST", "/auth/login", "application/json", string(body), "X-Forwarded-For", ip)
	return status
}

// TestALockOutStopsTheGuesserNotTheOwner: wrong passwords from one address
// lock that address out of that account only; the owner signs in from
// elsewhere. Only a spread of failures much larger than one address's
// locks the email everywhere.
func TestALockOutStopsTheGuesserNotTheOwner(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, map[string]string{"LOGIN_MAX_FAILURES": "3", "TRUSTED_PROXIES": "127.0.0.1"})
	ts.register("owner@example.com", "owner-password")
	for i := range 3 {
		if s := ts.loginFrom("203.0.113.9", "owner@example.com", fmt.Sprintf("guess-%d", i)); s != 401 {
			t.Fatalf("guess %d: %d", i, s)
		}
	}
	if s := ts.loginFrom("203.0.113.9", "owner@example.com", "owner-password"); s != http.StatusTooManyRequests {
		t.Fatalf("the guesser's address after 3 failures: %d, want 429", s)
	}
	if s := ts.loginFrom("198.51.100.1", "owner@example.com", "owner-password"); s != 200 {
		t.Fatalf("the owner from another address: %d, want 200", s)
	}
	// Ten addresses' worth of failures lock the email everywhere (10 x 3).
	for i := range 30 {
		ts.loginFrom(fmt.Sprintf("192.0.2.%d", i), "owner@example.com", "guess")
	}
	if s := ts.loginFrom("198.51.100.2", "owner@example.com", "owner-password"); s != http.StatusTooManyRequests {
		t.Fatalf("after a distributed guess: %d, want 429", s)
	}
}

// TestForwardedForCountsOnlyFromTrustedProxies: without TRUSTED_PROXIES a
// client rotating X-Forwarded-For is still one address.
func TestForwardedForCountsOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, map[string]string{"LOGIN_MAX_FAILURES": "3"})
	ts.register("owner@example.com", "owner-password")
	for i := range 3 {
		ts.loginFrom(fmt.Sprintf("203.0.113.%d", i), "owner@example.com", "guess")
	}
	if s := ts.loginFrom("203.0.113.99", "owner@example.com", "owner-password"); s != http.StatusTooManyRequests {
		t.Fatalf("a fresh forged address: %d, want 429 (the header is not trusted)", s)
	}
}

func TestAdminsSeeAndLiftLockouts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, map[string]string{"LOGIN_MAX_FAILURES": "2", "TRUSTED_PROXIES": "127.0.0.1"})
	ts.register("owner@example.com", "owner-password")
	for range 2 {
		ts.loginFrom("203.0.113.9", "owner@example.com", "guess")
	}
	ctx := context.Background()
	list, err := ts.admin.Lockouts(ctx)
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("lockouts: %+v, %v", list, err)
	}
	l := list.Items[0]
	if l.Kind != "pair" || l.Email != "owner@example.com" || l.IP != "203.0.113.9" {
		t.Fatalf("lockout %+v", l)
	}
	user, _ := ts.newUser("plain@example.com")
	_, err = user.Lockouts(ctx)
	wantStatus(t, err, http.StatusForbidden)
	wantStatus(t, user.LiftLockout(ctx, l.ID), http.StatusForbidden)

	if err := ts.admin.LiftLockout(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if s := ts.loginFrom("203.0.113.9", "owner@example.com", "owner-password"); s != 200 {
		t.Fatalf("after the lift: %d", s)
	}
	wantStatus(t, ts.admin.LiftLockout(ctx, l.ID), http.StatusNotFound)
	audit, _ := ts.admin.Audit(ctx, client.AuditParams{Action: api.AuditLockoutLifted})
	if audit.Total != 1 {
		t.Fatalf("%d lift audit entries", audit.Total)
	}
}

// TestWrongCurrentPasswordsAreThrottled: PUT /users/me is not a password
// oracle for whoever holds an access token.
func TestWrongCurrentPasswordsAreThrottled(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, map[string]string{"LOGIN_MAX_FAILURES": "3"})
	c, _ := ts.newUser("held@example.com")
	ctx := context.Background()
	email := "other@example.com"
	for i := range 3 {
		_, err := c.UpdateMe(ctx, api.UpdateMeRequest{Email: &email, CurrentPassword: fmt.Sprintf("guess-%d", i)})
		wantStatus(t, err, http.StatusForbidden)
	}
	_, err := c.UpdateMe(ctx, api.UpdateMeRequest{Email: &email, CurrentPassword: "password-held@example.com"})
	p := wantStatus(t, err, http.StatusTooManyRequests)
	if p.RetryAfter < 1 {
		t.Fatalf("no Retry-After: %+v", p)
	}
	// The same count stops sign-ins with the account's email.
	_, err = ts.anon.Login(ctx, api.LoginRequest{Email: "held@example.com", Password: "password-held@example.com"})
	wantStatus(t, err, http.StatusTooManyRequests)
}

// TestSignInsInFlightDoNotSurviveAPasswordChange races sign-ins with the
// old password against the owner changing it: once the change is done, no
// session made with the old password may work.
func TestSignInsInFlightDoNotSurviveAPasswordChange(t *testing.T) {
	t.Parallel()
	// Real hashing: the race needs sign-ins that take tens of milliseconds.
	ts := newTestServer(t, map[string]string{"LOGIN_MAX_FAILURES": "1000", realHashing: "1"})
	owner, _ := ts.newUser("racer@example.com")
	ctx := context.Background()
	old := "password-racer@example.com"
	for round := range 3 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var pairs []*api.TokenPair
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pair, err := ts.anon.Login(ctx, api.LoginRequest{Email: "racer@example.com", Password: old})
				if err == nil {
					mu.Lock()
					pairs = append(pairs, pair)
					mu.Unlock()
				}
			}()
		}
		next := fmt.Sprintf("new-password-%d", round)
		if _, err := owner.UpdateMe(ctx, api.UpdateMeRequest{Password: &next, CurrentPassword: old}); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for _, p := range pairs {
			if _, err := ts.anon.WithToken(p.AccessToken).Me(ctx); err == nil {
				t.Fatalf("round %d: a session signed in with the old password outlived the change", round)
			}
		}
		old = next
	}
}

// TestATrickledBodyIsCutOff: a client that sends headers and then a body a
// byte at a time gets 408 and loses the connection, instead of holding it
// for as long as it likes.
func TestATrickledBodyIsCutOff(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, map[string]string{"BODY_READ_TIMEOUT": "300ms"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = fmt.Fprint(conn, "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	// Keep trickling in the background; the server must answer anyway.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a generous bound: the test must end
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	t.Logf("answered after %v", time.Since(start))
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
}

// TestALongStreamOutlivesTheBodyDeadline: the deadline bounds reading the
// body only; the streamed answer that follows may take much longer.
func TestALongStreamOutlivesTheBodyDeadline(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{ChunkDelay: 40 * time.Millisecond}, "BODY_READ_TIMEOUT", "100ms")
	user, _ := ts.newUser("long@example.com")
	stream, err := user.ChatStream(context.Background(), api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "tell me a long story"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	start := time.Now()
	for {
		_, err := stream.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the stream broke after %v: %v", time.Since(start), err)
		}
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("the stream took %v: too short to tell", time.Since(start))
	}
}
