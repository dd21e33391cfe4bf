package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
	"github.com/duckgate/duckgate/shared/mailtest"
)

var linkPattern = regexp.MustCompile(`https?://\S+/reset\?token=[A-Za-z0-9_%\-]+`)

// tokenIn finds the reset or invitation link in a mail and returns its token.
func tokenIn(t *testing.T, m mailtest.Message) string {
	t.Helper()
	link := linkPattern.FindString(m.Text)
	if link == "" || !strings.Contains(m.HTML, link) {
		t.Fatalf("no link in both parts of the mail:\n%s\n%s", m.Text, m.HTML)
	}
	if !strings.HasPrefix(link, "http://frontend.test/reset?token=") {
		t.Fatalf("the link does not point at PUBLIC_URL: %s", link)
	}
	u, _ := url.Parse(link)
	return u.Query().Get("token")
}

func mailEnv(smtp *mailtest.Server, extra ...string) map[string]string {
	env := map[string]string{"SMTP_URL": smtp.URL(), "MAIL_FROM": "duckgate <noreply@example.com>", "PUBLIC_URL": "http://frontend.test"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func TestForgotMailsALinkThatSetsThePasswordOnce(t *testing.T) {
	t.Parallel()
	smtp := mailtest.Start(t, mailtest.Options{})
	ts := newTestServer(t, mailEnv(smtp))
	old, _ := ts.newUser("forgetful@example.com")
	ctx := context.Background()
	if c, err := ts.anon.AuthCapabilities(ctx); err != nil || !c.PasswordRecovery {
		t.Fatalf("capabilities %+v, %v", c, err)
	}
	accepted, err := ts.anon.ForgotPassword(ctx, "Forgetful@Example.com ")
	if err != nil || !strings.Contains(accepted.Message, "If an account exists") {
		t.Fatalf("forgot: %+v, %v", accepted, err)
	}
	token := tokenIn(t, smtp.WaitFor(t, "forgetful@example.com", "Reset your duckgate password", 10*time.Second))

	err = ts.anon.ResetPassword(ctx, token, "short")
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if err := ts.anon.ResetPassword(ctx, token, "a brand new password"); err != nil {
		t.Fatalf("reset: %v", err)
	}
	_, err = old.Me(ctx)
	wantStatus(t, err, http.StatusUnauthorized) // every session ended
	if _, err := ts.anon.Login(ctx, api.LoginRequest{Email: "forgetful@example.com", Password: "a brand new password"}); err != nil {
		t.Fatalf("sign in with the new password: %v", err)
	}
	_, err = ts.anon.Login(ctx, api.LoginRequest{Email: "forgetful@example.com", Password: "password-forgetful@example.com"})
	wantStatus(t, err, http.StatusUnauthorized)
	p := wantStatus(t, ts.anon.ResetPassword(ctx, token, "once more please"), http.StatusBadRequest)
	if !strings.Contains(p.Detail, "ask for a new one") {
		t.Fatalf("a used link: %+v", p)
	}
	for _, action := range []string{api.AuditResetRequested, api.AuditPasswordReset} {
		audit, _ := ts.admin.Audit(ctx, client.AuditParams{Action: action})
		if audit.Total != 1 || audit.Items[0].TargetEmail != "forgetful@example.com" {
			t.Fatalf("audit of %s: %+v", action, audit)
		}
	}
}

// TestForgotTellsNothingAboutWhichAccountsExist: same status, same body,
// and the same time (medians within 10%) for an existing and an unknown
// email. The requests are spaced so the mail sent for the existing one
// does not slow the next request down. Not parallel, and measured up to
// five times: other work on two shared cores moves medians by more than
// 10% now and then, whereas a real difference would show every time.
func TestForgotTellsNothingAboutWhichAccountsExist(t *testing.T) {
	smtp := mailtest.Start(t, mailtest.Options{})
	ts := newTestServer(t, mailEnv(smtp, "TRUSTED_PROXIES", "127.0.0.1"))
	ts.register("exists@example.com", "password-exists")
	forgot := func(email string, i int) (int, string, time.Duration) {
		body, _ := json.Marshal(api.ForgotPasswordRequest{Email: email})
		start := time.Now()
		status, _, b := ts.do("POST", "/auth/password/forgot", "application/json", string(body),
			"X-Forwarded-For", "198.51.100."+strconv.Itoa(i%250)) // the per-address throttle is not what is measured
		return status, b, time.Since(start)
	}
	measure := func(round int) (time.Duration, time.Duration) {
		var known, unknown []time.Duration
		for i := range 40 {
			// Alternate which goes first, so whatever the previous request
			// left behind weighs on both alike.
			first, second := "exists@example.com", "nobody@example.com"
			if i%2 == 1 {
				first, second = second, first
			}
			sa, ba, da := forgot(first, round*40+i)
			time.Sleep(20 * time.Millisecond)
			sb, bb, db := forgot(second, round*40+i)
			time.Sleep(20 * time.Millisecond)
			s1, b1, d1, s2, b2, d2 := sa, ba, da, sb, bb, db
			if i%2 == 1 {
				s1, b1, d1, s2, b2, d2 = sb, bb, db, sa, ba, da
			}
			if s1 != http.StatusAccepted || s1 != s2 || b1 != b2 {
				t.Fatalf("answers differ: %d %s / %d %s", s1, b1, s2, b2)
			}
			known, unknown = append(known, d1), append(unknown, d2)
		}
		return median(known), median(unknown)
	}
	for round := range 5 {
		a, b := measure(round)
		t.Logf("medians: existing %v, unknown %v", a, b)
		if within10(a, b) {
			return
		}
	}
	t.Fatal("the median answer for an existing email and for an unknown one were more than 10% apart, five times")
}

func within10(a, b time.Duration) bool {
	diff := a - b
	if diff < 0 {
		diff = -diff
	}
	return diff <= max(a, b)/10
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func TestWithoutMailRecoveryIsUnavailableAndAdminsHandOverLinks(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	if c, _ := ts.anon.AuthCapabilities(ctx); c.PasswordRecovery {
		t.Fatal("recovery offered without mail")
	}
	_, err := ts.anon.ForgotPassword(ctx, "anyone@example.com")
	wantStatus(t, err, http.StatusServiceUnavailable)

	created, err := ts.admin.CreateUser(ctx, api.CreateUserRequest{Email: "New.Hire@Example.com"})
	if err != nil || created.User.Email != "new.hire@example.com" || created.User.Role != "user" || created.Invitation.Sent ||
		!strings.HasPrefix(created.Invitation.URL, "http://127.0.0.1:8080/reset?token=inv_") {
		t.Fatalf("created %+v, %v", created, err)
	}
	// Until the invitation is accepted nobody signs in as them.
	_, err = ts.anon.Login(ctx, api.LoginRequest{Email: "new.hire@example.com", Password: ""})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	_, err = ts.anon.Login(ctx, api.LoginRequest{Email: "new.hire@example.com", Password: "anything-at-all"})
	wantStatus(t, err, http.StatusUnauthorized)
	u, _ := url.Parse(created.Invitation.URL)
	if err := ts.anon.ResetPassword(ctx, u.Query().Get("token"), "my own password"); err != nil {
		t.Fatalf("accept the invitation: %v", err)
	}
	hire, _ := ts.login("new.hire@example.com", "my own password")

	_, err = ts.admin.CreateUser(ctx, api.CreateUserRequest{Email: "new.hire@example.com"})
	wantStatus(t, err, http.StatusConflict)
	_, err = hire.CreateUser(ctx, api.CreateUserRequest{Email: "x@example.com"})
	wantStatus(t, err, http.StatusForbidden)

	link, err := ts.admin.PasswordResetLink(ctx, created.User.ID)
	if err != nil || link.Sent || !strings.Contains(link.URL, "token=rst_") || link.ExpiresAt.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("reset link %+v, %v", link, err)
	}
	if err := ts.admin.SignOutUser(ctx, created.User.ID); err != nil {
		t.Fatal(err)
	}
	_, err = hire.Me(ctx)
	wantStatus(t, err, http.StatusUnauthorized)
	wantStatus(t, hire.SignOutUser(ctx, ts.adminID), http.StatusUnauthorized)
	audit, _ := ts.admin.Audit(ctx, client.AuditParams{Email: "new.hire"})
	actions := map[string]bool{}
	for _, e := range audit.Items {
		actions[e.Action] = true
	}
	for _, want := range []string{api.AuditUserCreated, api.AuditUserInvited, api.AuditInvitationAccepted, api.AuditLoginSucceeded,
		api.AuditResetLinkIssued, api.AuditSessionsRevokedByAdmin} {
		if !actions[want] {
			t.Errorf("no %s entry for the new hire: %v", want, actions)
		}
	}
}

func TestInvitationsAreMailed(t *testing.T) {
	t.Parallel()
	smtp := mailtest.Start(t, mailtest.Options{})
	ts := newTestServer(t, mailEnv(smtp))
	ctx := context.Background()
	created, err := ts.admin.CreateUser(ctx, api.CreateUserRequest{Email: "invitee@example.com", Role: "admin"})
	if err != nil || !created.Invitation.Sent || created.Invitation.URL != "" || created.User.Role != "admin" {
		t.Fatalf("created %+v, %v", created, err)
	}
	token := tokenIn(t, smtp.WaitFor(t, "invitee@example.com", "You are invited", 10*time.Second))
	if err := ts.anon.ResetPassword(ctx, token, "chosen password"); err != nil {
		t.Fatal(err)
	}
	ts.login("invitee@example.com", "chosen password")
}

func TestSessionsWithoutKeepMeSignedInAreShort(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, map[string]string{"SHORT_SESSION_TTL": "1h"})
	ts.register("brief@example.com", "brief-password")
	ctx := context.Background()
	no := false
	pair, err := ts.anon.Login(ctx, api.LoginRequest{Email: "brief@example.com", Password: "brief-password", Remember: &no})
	if err != nil {
		t.Fatal(err)
	}
	if pair, err = ts.anon.Refresh(ctx, pair.RefreshToken); err != nil {
		t.Fatal(err)
	}
	short := ts.anon.WithToken(pair.AccessToken)
	if _, err := ts.anon.Login(ctx, api.LoginRequest{Email: "brief@example.com", Password: "brief-password"}); err != nil {
		t.Fatal(err)
	}
	list, err := short.Sessions(ctx)
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("sessions %+v, %v", list, err)
	}
	for _, s := range list.Items {
		left := time.Until(s.ExpiresAt)
		if s.Current && (left > 61*time.Minute || left < 59*time.Minute) || !s.Current && left < 700*time.Hour {
			t.Fatalf("session (current=%v) expires in %v", s.Current, left)
		}
	}
}

func TestTheGeneratedFirstAdminIsInAFileUntilItsPasswordChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newTestAppAt(t, dir, map[string]string{"ADMIN_EMAIL": "", "ADMIN_PASSWORD": ""})
	path := initialAdminPath(a.cfg.JWTKeyFile)
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("initial admin file: %v, %v", info, err)
	}
	body, _ := os.ReadFile(path)
	password := field(string(body), "password:")
	if field(string(body), "email:") != "admin@localhost" || len(password) < 16 {
		t.Fatalf("file holds %q", body)
	}
	ts, _ := serveApp(t, a)
	admin, _ := ts.login("admin@localhost", password)
	next := "a password of my own"
	if _, err := admin.UpdateMe(context.Background(), api.UpdateMeRequest{Password: &next, CurrentPassword: password}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the file outlived the password change: %v", err)
	}
}
