package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

func TestRegisterNormalisesAndValidates(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	u, err := ts.anon.Register(ctx, api.RegisterRequest{Email: "  Mixed.Case@Example.COM ", Password: "long-enough"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "mixed.case@example.com" || u.Role != api.RoleUser || u.ID == "" {
		t.Fatalf("registered %+v", u)
	}
	_, err = ts.anon.Register(ctx, api.RegisterRequest{Email: "MIXED.case@example.com", Password: "long-enough"})
	wantStatus(t, err, http.StatusConflict)

	for _, tc := range []struct {
		name, email, password, field string
	}{
		{"no email", "", "long-enough", "email"},
		{"not an email", "not-an-email", "long-enough", "email"},
		{"display name", "Ann <ann@example.com>", "long-enough", "email"},
		{"short password", "short@example.com", "1234567", "password"},
		{"long password", "long@example.com", strings.Repeat("x", 129), "password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ts.anon.Register(ctx, api.RegisterRequest{Email: tc.email, Password: tc.password})
			p := wantStatus(t, err, http.StatusUnprocessableEntity)
			if len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
				t.Fatalf("errors %+v, want field %s", p.Errors, tc.field)
			}
		})
	}
}

func TestConcurrentRegistrationOfOneEmailSucceedsOnce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	var wg sync.WaitGroup
	var created, conflicts atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ts.anon.Register(context.Background(), api.RegisterRequest{Email: "same@example.com", Password: "password-" + strconv.Itoa(i)})
			if err == nil {
				created.Add(1)
			} else if client.IsStatus(err, http.StatusConflict) {
				conflicts.Add(1)
			} else {
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || conflicts.Load() != 19 {
		t.Fatalf("201s: %d, 409s: %d; want 1 and 19", created.Load(), conflicts.Load())
	}
}

func TestLoginAnswersTheSameForUnknownEmailAndWrongPassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ts.register("known@example.com", "right-password")
	_, errUnknown := ts.anon.Login(context.Background(), api.LoginRequest{Email: "unknown@example.com", Password: "whatever-pw"})
	_, errWrong := ts.anon.Login(context.Background(), api.LoginRequest{Email: "known@example.com", Password: "wrong-password"})
	a, b := wantStatus(t, errUnknown, 401), wantStatus(t, errWrong, 401)
	if a.Detail != b.Detail || a.Type != b.Type {
		t.Fatalf("answers differ: %+v vs %+v", a, b)
	}
}

func TestLoginAcceptsTheOAuth2PasswordForm(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ts.register("form@example.com", "form-password")
	form := url.Values{"grant_type": {"password"}, "username": {"form@example.com"}, "password": {"form-password"}}
	status, h, body := ts.do("POST", "/auth/login", "application/x-www-form-urlencoded", form.Encode())
	if status != 200 || !strings.Contains(body, `"token_type":"bearer"`) {
		t.Fatalf("form login: %d %s", status, body)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("token response cacheable: %q", h.Get("Cache-Control"))
	}
}

func TestRepeatedFailedLoginsAreThrottled(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, map[string]string{"LOGIN_MAX_FAILURES": "3", "LOGIN_LOCKOUT": "1m"})
	ts.register("victim@example.com", "right-password")
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, err := ts.anon.Login(ctx, api.LoginRequest{Email: "victim@example.com", Password: "wrong-" + strconv.Itoa(i)})
		wantStatus(t, err, 401)
	}
	_, err := ts.anon.Login(ctx, api.LoginRequest{Email: "victim@example.com", Password: "right-password"})
	p := wantStatus(t, err, http.StatusTooManyRequests)
	if p.RetryAfter < 1 || p.RetryAfter > 60 {
		t.Fatalf("Retry-After = %d, want 1..60", p.RetryAfter)
	}
	audit, err := ts.admin.Audit(ctx, client.AuditParams{Action: api.AuditLockout})
	if err != nil || audit.Total != 1 {
		t.Fatalf("lock-out audit: %+v %v", audit, err)
	}
	failed, err := ts.admin.Audit(ctx, client.AuditParams{Action: api.AuditLoginFailed})
	if err != nil || failed.Total != 3 {
		t.Fatalf("failed sign-in audit: %+v %v", failed, err)
	}
}

func TestRefreshRotatesAndReuseRevokesTheSession(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, map[string]string{"REFRESH_REUSE_GRACE": "0"})
	ts.register("rot@example.com", "rot-password")
	ctx := context.Background()
	_, first := ts.loginPair("rot@example.com", "rot-password")
	second, err := ts.anon.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || second.ExpiresIn != 900 {
		t.Fatalf("not rotated: %+v", second)
	}
	// The old token again: 401, and the whole session ends.
	_, err = ts.anon.Refresh(ctx, first.RefreshToken)
	wantStatus(t, err, 401)
	_, err = ts.anon.Refresh(ctx, second.RefreshToken)
	wantStatus(t, err, 401)
	_, err = ts.anon.WithToken(second.AccessToken).Me(ctx)
	wantStatus(t, err, 401)
	audit, err := ts.admin.Audit(ctx, client.AuditParams{Action: api.AuditFamilyRevoked})
	if err != nil || audit.Total != 1 {
		t.Fatalf("reuse audit: %+v %v", audit, err)
	}
}

// TestARefreshRetriedAfterARestartKeepsTheSession: the backend commits a
// rotation and dies before its answer leaves; the client presents its
// last token again after the restart. Within REFRESH_REUSE_GRACE that is a
// retry, not theft: the session goes on, the unused successor is revoked.
func TestARefreshRetriedAfterARestartKeepsTheSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts, stop := serveTestApp(t, newTestAppAt(t, dir, nil))
	ts.register("retry@example.com", "retry-password")
	ctx := context.Background()
	_, first := ts.loginPair("retry@example.com", "retry-password")
	lost, err := ts.anon.Refresh(ctx, first.RefreshToken) // the answer that never arrived
	if err != nil {
		t.Fatal(err)
	}
	stop()

	ts, _ = serveTestApp(t, newTestAppAt(t, dir, nil))
	again, err := ts.anon.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("the retry after the restart: %v", err)
	}
	if _, err := ts.anon.WithToken(again.AccessToken).Me(ctx); err != nil {
		t.Fatalf("the session did not survive the retry: %v", err)
	}
	_, err = ts.anon.Refresh(ctx, lost.RefreshToken)
	wantStatus(t, err, 401) // the unused successor is revoked
	if _, err := ts.anon.WithToken(again.AccessToken).Me(ctx); err != nil {
		t.Fatalf("presenting the revoked successor ended the session: %v", err)
	}
	retried, _ := ts.admin.Audit(ctx, client.AuditParams{Action: api.AuditRefreshRetried})
	reused, _ := ts.admin.Audit(ctx, client.AuditParams{Action: api.AuditFamilyRevoked})
	if retried.Total != 1 || reused.Total != 0 {
		t.Fatalf("audit: %d retries, %d reuses; want 1 and 0", retried.Total, reused.Total)
	}
}

func TestLogoutEndsTheSessionAndItsAccessTokens(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ts.register("out@example.com", "out-password")
	ctx := context.Background()
	c, pair := ts.loginPair("out@example.com", "out-password")
	if err := ts.anon.Logout(ctx, pair.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err := c.Me(ctx)
	wantStatus(t, err, 401)
	_, err = ts.anon.Refresh(ctx, pair.RefreshToken)
	wantStatus(t, err, 401)
	if err := ts.anon.Logout(ctx, "never-issued"); err != nil {
		t.Fatalf("logout of an unknown token: %v", err)
	}
}

func TestAccessTokenIsCheckedStrictly(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	_, pair := ts.loginPair(testAdminEmail, testAdminPassword)
	parts := strings.Split(pair.AccessToken, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	for name, header := range map[string]string{
		"none":       "",
		"not bearer": "Basic " + pair.AccessToken,
		"garbage":    "Bearer not-a-jwt",
		"tampered":   "Bearer " + tampered,
		"unsigned":   "Bearer " + parts[0] + "." + parts[1] + ".",
	} {
		t.Run(name, func(t *testing.T) {
			var h []string
			if header != "" {
				h = []string{"Authorization", header}
			}
			status, hdr, body := ts.do("GET", "/users/me", "", "", h...)
			if status != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%d %q %s", status, hdr.Get("WWW-Authenticate"), body)
			}
			problemOf(t, hdr, body)
		})
	}
}

func TestJWKSPublishesTheVerificationKey(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	set, err := ts.anon.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0]["kty"] != "OKP" || set.Keys[0]["crv"] != "Ed25519" || set.Keys[0]["kid"] == "" || set.Keys[0]["d"] != nil {
		t.Fatalf("jwks %+v", set.Keys)
	}
}

func TestMalformedRequestsGetClearProblems(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	big := `{"email":"a@example.com","password":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"malformed JSON", "application/json", `{"email":`, 400},
		{"not an object", "application/json", `[1,2]`, 400},
		{"wrong type", "application/json", `{"email": 5, "password": "x"}`, 400},
		{"empty body", "application/json", ``, 400},
		{"two values", "application/json", `{} {}`, 400},
		{"wrong content type", "text/plain", `{"email":"a@example.com","password":"password1"}`, 415},
		{"no content type", "", `{"email":"a@example.com","password":"password1"}`, 415},
		{"oversized", "application/json", big, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := ts.do("POST", "/auth/register", tc.contentType, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if p := problemOf(t, h, body); p.Status != tc.status || p.Detail == "" {
				t.Fatalf("problem %+v", p)
			}
		})
	}
	// Nothing of it was stored.
	list, err := ts.admin.ListUsers(context.Background(), client.ListUsersParams{})
	if err != nil || list.Total != 1 {
		t.Fatalf("users after bad requests: %+v %v", list, err)
	}
}

func TestHostileStringsAreStoredVerbatimOrRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	hostile := []string{
		"'; DROP TABLE users; --",
		"\" OR 1=1 --",
		"<script>alert(1)</script>",
		"\x00nul",
		"ümlaut-ß-数字-🦆",
		"%00%27",
		strings.Repeat("a", 300),
		"\u202eRTL",
	}
	for i, s := range hostile {
		// As an email local part, in the password and in every query field.
		email := fmt.Sprintf("h%d@example.com", i)
		_, err := ts.anon.Register(ctx, api.RegisterRequest{Email: s + "@example.com", Password: "password1"})
		if err != nil && !client.IsStatus(err, 422) {
			t.Errorf("email %q: %v", s, err)
		}
		_, err = ts.anon.Register(ctx, api.RegisterRequest{Email: email, Password: s + "password"})
		if err != nil && !client.IsStatus(err, 422) {
			t.Errorf("password %q: %v", s, err)
		} else if err == nil {
			if _, err := ts.anon.Login(ctx, api.LoginRequest{Email: email, Password: s + "password"}); err != nil {
				t.Errorf("login with password %q: %v", s, err)
			}
		}
		if _, err := ts.anon.Login(ctx, api.LoginRequest{Email: s + "@example.com", Password: s}); !client.IsStatus(err, 401) {
			t.Errorf("sign-in as %q: %v", s, err)
		}
		if _, err := ts.admin.ListUsers(ctx, client.ListUsersParams{Query: s}); err != nil {
			t.Errorf("search %q: %v", s, err)
		}
		if _, err := ts.admin.Audit(ctx, client.AuditParams{Actor: s, Action: s}); err != nil {
			t.Errorf("audit filter %q: %v", s, err)
		}
		if err := ts.admin.DeleteUser(ctx, s); !client.IsStatus(err, 404) {
			t.Errorf("delete %q: %v", s, err)
		}
	}
	if _, err := ts.admin.Stats(ctx); err != nil {
		t.Fatalf("database damaged: %v", err)
	}
}
