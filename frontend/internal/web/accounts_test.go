package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// Tokens the stub's /auth/password/reset accepts.
const (
	stubResetToken  = "rst_good-reset-token-0123456789abcdefghijklmnopqrstuv"
	stubInviteToken = "inv_good-invite-token-0123456789abcdefghijklmnopqrstu"
	stubLinkURL     = "http://frontend.test/reset?token=inv_handed-over-0123456789abcdefghijklmnopqrstuv"
)

// stubAccountState is what the stub backend's account endpoints saw, and
// whether it "has mail".
type stubAccountState struct {
	mail       atomic.Bool
	mu         sync.Mutex
	signedOut  []string
	auditQuery url.Values
}

func (s *stubAccountState) record(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func stubAccounts(mux *http.ServeMux) *stubAccountState {
	st := &stubAccountState{}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	problem := func(w http.ResponseWriter, p api.Problem) {
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(p)
	}
	admin := func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+testAdminAccess }
	mux.HandleFunc("GET /auth/capabilities", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.AuthCapabilities{PasswordRecovery: st.mail.Load()})
	})
	mux.HandleFunc("POST /auth/password/forgot", func(w http.ResponseWriter, r *http.Request) {
		var in api.ForgotPasswordRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		if !st.mail.Load() {
			problem(w, api.Problem{Status: 503, Title: "Service Unavailable",
				Detail: "password recovery by mail is not available on this server; ask an administrator for a reset link"})
			return
		}
		if !strings.Contains(in.Email, "@") {
			problem(w, api.Problem{Status: 422, Title: "Unprocessable Entity", Detail: "the request has invalid fields",
				Errors: []api.FieldError{{Field: "email", Message: "must be an email address"}}})
			return
		}
		writeJSON(w, 202, api.Accepted{Message: "If an account exists for this email, a link is on its way."})
	})
	mux.HandleFunc("POST /auth/password/reset", func(w http.ResponseWriter, r *http.Request) {
		var in api.ResetPasswordRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		switch {
		case len(in.Password) < 8:
			problem(w, api.Problem{Status: 422, Title: "Unprocessable Entity", Detail: "the request has invalid fields",
				Errors: []api.FieldError{{Field: "password", Message: "must be at least 8 characters"}}})
		case in.Token == stubResetToken || in.Token == stubInviteToken:
			w.WriteHeader(http.StatusNoContent)
		default:
			problem(w, api.Problem{Status: 400, Title: "Bad Request",
				Detail: "this link is invalid, has expired, was already used, or was replaced by a newer one; ask for a new one"})
		}
	})
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.UserList{Total: 1, Items: []api.User{{ID: "u1", Email: "duck@example.com", Role: "user"}}})
	})
	expires := time.Date(2030, 1, 8, 9, 0, 0, 0, time.UTC)
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		if !admin(r) {
			problem(w, api.Problem{Status: 403, Title: "Forbidden", Detail: "admin role required"})
			return
		}
		var in api.CreateUserRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Email == "taken@example.com" {
			problem(w, api.Problem{Status: 409, Title: "Conflict", Detail: "an account with this email already exists"})
			return
		}
		out := api.CreatedUser{User: api.User{ID: "u9", Email: in.Email, Role: in.Role}, Invitation: api.AccountLink{ExpiresAt: expires}}
		if st.mail.Load() && !strings.HasPrefix(in.Email, "bounce") {
			out.Invitation.Sent = true
		} else { // no mail, or the mail failed: the admin hands the link over
			out.Invitation.URL = stubLinkURL
		}
		writeJSON(w, 201, out)
	})
	mux.HandleFunc("POST /users/{id}/password-reset", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "gone" {
			problem(w, api.Problem{Status: 404, Title: "Not Found", Detail: "no such user"})
			return
		}
		link := api.AccountLink{ExpiresAt: expires, Sent: st.mail.Load()}
		if !link.Sent {
			link.URL = "http://frontend.test/reset?token=" + stubResetToken
		}
		writeJSON(w, 200, link)
	})
	mux.HandleFunc("DELETE /users/{id}/sessions", func(w http.ResponseWriter, r *http.Request) {
		st.record(func() { st.signedOut = append(st.signedOut, r.PathValue("id")) })
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /admin/lockouts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.LockoutList{Items: []api.Lockout{{ID: "l1", Kind: "pair", Email: "duck@example.com", IP: "192.0.2.7",
			LockedUntil: expires}}})
	})
	mux.HandleFunc("DELETE /admin/lockouts/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "l1" {
			problem(w, api.Problem{Status: 404, Title: "Not Found", Detail: "no such lock-out: it ended or was lifted"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /admin/audit", func(w http.ResponseWriter, r *http.Request) {
		st.record(func() { st.auditQuery = r.URL.Query() })
		writeJSON(w, 200, api.AuditList{Total: 120, Items: []api.AuditEntry{
			{ID: "a1", At: expires, Action: api.AuditUserInvited, ActorID: "0190-admin-uuid", ActorEmail: "admin@example.com",
				TargetID: "0190-new-uuid", TargetEmail: "new@example.com"},
			{ID: "a2", At: expires, Action: api.AuditLoginFailed, TargetID: "0190-deleted-uuid", Detail: "ip=192.0.2.7"},
		}})
	})
	return st
}

func TestSignInLinksToForgotOnlyWithMail(t *testing.T) {
	b := startStubBackend(t)
	fe := startFrontend(t, b.URL)
	if _, page := get(t, browser(t), fe.URL+"/login"); strings.Contains(page, `href="/forgot"`) {
		t.Error("without mail the sign-in page links to /forgot")
	}
	b.accounts.mail.Store(true)
	if _, page := get(t, browser(t), fe.URL+"/login"); !strings.Contains(page, `href="/forgot"`) || !strings.Contains(page, "Forgot password?") {
		t.Error("with mail the sign-in page does not link to /forgot")
	}
}

func TestKeepMeSignedInReachesTheBackendAndTheCookies(t *testing.T) {
	b := startStubBackend(t)
	fe := startFrontend(t, b.URL)
	for _, keep := range []bool{false, true} {
		c := browser(t)
		form := url.Values{"email": {"duck@example.com"}, "password": {"right-password"}, "csrf_token": {pageToken(t, c, fe.URL+"/login")}}
		if keep {
			form.Set("remember", "1")
		}
		resp, _ := postForm(t, c, fe.URL+"/login", form)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", resp.StatusCode)
		}
		for _, ck := range resp.Cookies() {
			if ck.Name != "dg_refresh" {
				continue
			}
			if persistent := ck.MaxAge > 0; persistent != keep {
				t.Errorf("keep me signed in = %v: refresh cookie Max-Age %d", keep, ck.MaxAge)
			}
		}
	}
}

func TestForgotAnswersTheSameAndSaysWhenMailIsMissing(t *testing.T) {
	b := startStubBackend(t)
	fe := startFrontend(t, b.URL)
	c := browser(t)

	_, page := get(t, c, fe.URL+"/forgot")
	if !strings.Contains(page, "This server cannot send email") || strings.Contains(page, `action="/forgot"`) {
		t.Fatalf("without mail /forgot does not say so plainly: %.600s", page)
	}

	b.accounts.mail.Store(true)
	token := pageToken(t, c, fe.URL+"/forgot")
	if resp, _ := postForm(t, c, fe.URL+"/forgot", url.Values{"email": {"x@example.com"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a post without the CSRF token: %d, want 403", resp.StatusCode)
	}
	var first string
	for _, email := range []string{"duck@example.com", "nobody@example.com"} {
		resp, page := postForm(t, c, fe.URL+"/forgot", url.Values{"email": {email}, "csrf_token": {token}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "If an account exists for that address, we sent a link") {
			t.Fatalf("forgot %s: %d %.600s", email, resp.StatusCode, page)
		}
		answer := strings.ReplaceAll(page, email, "")
		if first == "" {
			first = answer
		} else if answer != first {
			t.Error("the answer differs between an account and no account")
		}
	}
	resp, page := postForm(t, c, fe.URL+"/forgot", url.Values{"email": {"not-an-email"}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Must be an email address.") {
		t.Errorf("malformed email: %d %.600s", resp.StatusCode, page)
	}
}

func TestResetSetsThePasswordOrExplainsTheLink(t *testing.T) {
	b := startStubBackend(t)
	b.accounts.mail.Store(true)
	fe := startFrontend(t, b.URL)
	c := browser(t)
	post := func(token, password, confirm string) (int, string) {
		csrf := pageToken(t, c, fe.URL+"/reset?token="+url.QueryEscape(token))
		resp, page := postForm(t, c, fe.URL+"/reset", url.Values{"token": {token}, "password": {password},
			"password_confirm": {confirm}, "csrf_token": {csrf}})
		return resp.StatusCode, page
	}

	_, page := get(t, c, fe.URL+"/reset?token="+stubResetToken)
	if !strings.Contains(page, "Choose a new password") || !strings.Contains(page, `value="`+stubResetToken+`"`) {
		t.Fatalf("reset page: %.800s", page)
	}
	if _, page := get(t, c, fe.URL+"/reset?token="+stubInviteToken); !strings.Contains(page, "Set your password") {
		t.Fatalf("an invitation's page does not say Set your password: %.800s", page)
	}
	if resp, page := get(t, c, fe.URL+"/reset"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "This link is incomplete") {
		t.Errorf("reset without a token: %d %.600s", resp.StatusCode, page)
	}

	if status, page := post(stubResetToken, "new-password-1", "other-password"); status != 422 || !strings.Contains(page, "The two passwords differ.") {
		t.Errorf("mismatch: %d %.600s", status, page)
	}
	if status, page := post(stubResetToken, "short", "short"); status != 422 || !strings.Contains(page, "Must be at least 8 characters.") {
		t.Errorf("short password: %d %.600s", status, page)
	}
	status, page := post("rst_used-or-expired-token-0123456789abcdefghijklmnopq", "new-password-1", "new-password-1")
	if status != 400 || !strings.Contains(page, "This link has expired, was already used, or was replaced by a newer one.") ||
		!strings.Contains(page, `href="/forgot"`) {
		t.Errorf("expired link: %d %.800s", status, page)
	}
	status, page = post("inv_used-or-expired-token-0123456789abcdefghijklmnopq", "new-password-1", "new-password-1")
	if status != 400 || !strings.Contains(page, "Ask your administrator to send you a new one.") {
		t.Errorf("expired invitation: %d %.800s", status, page)
	}
	status, page = post(stubResetToken, "new-password-1", "new-password-1")
	if status != 200 || !strings.Contains(page, "Your password is changed") || !strings.Contains(page, `href="/login"`) {
		t.Errorf("reset: %d %.800s", status, page)
	}
	status, page = post(stubInviteToken, "new-password-1", "new-password-1")
	if status != 200 || !strings.Contains(page, "Your password is set") {
		t.Errorf("invitation: %d %.800s", status, page)
	}
}

func TestAdminCreatesUsersAndHandsOverLinksWithoutMail(t *testing.T) {
	b := startStubBackend(t)
	fe := startFrontend(t, b.URL)
	c := signedInAs(t, fe.URL, adminPassword)
	token := pageToken(t, c, fe.URL+"/admin/users")

	resp, page := postForm(t, c, fe.URL+"/admin/users", url.Values{"new_email": {"new@example.com"}, "new_role": {"user"}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, stubLinkURL) || !strings.Contains(page, "Invitation link for new@example.com") ||
		!strings.Contains(page, `data-copy="issued-link-url"`) {
		t.Fatalf("create without mail: %d, want the link with a copy button: %.1500s", resp.StatusCode, page)
	}
	// Shown once: the next page load has no link.
	if _, page := get(t, c, fe.URL+"/admin/users"); strings.Contains(page, stubLinkURL) {
		t.Error("the one-time link is shown again")
	}
	resp, page = postForm(t, c, fe.URL+"/admin/users", url.Values{"new_email": {"taken@example.com"}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "An account with this email already exists.") ||
		!strings.Contains(page, `value="taken@example.com"`) {
		t.Errorf("taken email: %d %.800s", resp.StatusCode, page)
	}

	resp, page = postForm(t, c, fe.URL+"/admin/users/u1/password-reset", url.Values{"email": {"duck@example.com"}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Password reset link for duck@example.com") || !strings.Contains(page, stubResetToken) {
		t.Errorf("reset link without mail: %d %.800s", resp.StatusCode, page)
	}
	resp, _ = postForm(t, c, fe.URL+"/admin/users/gone/password-reset", url.Values{"csrf_token": {token}})
	if _, page := get(t, c, fe.URL+"/admin/users"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(page, "That user no longer exists") {
		t.Errorf("reset link of a deleted user: %d, then %.300s", resp.StatusCode, page)
	}

	resp, _ = postForm(t, c, fe.URL+"/admin/users/u1/sign-out", url.Values{"email": {"duck@example.com"}, "csrf_token": {token}})
	if _, page := get(t, c, fe.URL+"/admin/users"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(page, "duck@example.com is signed out on every device.") {
		t.Errorf("sign out everywhere: %d, then %.300s", resp.StatusCode, page)
	}
	var got []string
	b.accounts.record(func() { got = b.accounts.signedOut })
	if len(got) != 1 || got[0] != "u1" {
		t.Errorf("the backend signed out %v", got)
	}

	_, page = get(t, c, fe.URL+"/admin/users")
	if !strings.Contains(page, "This email, from this address") || !strings.Contains(page, `action="/admin/lockouts/l1/lift"`) {
		t.Fatalf("lock-outs are not listed: %.2000s", page)
	}
	resp, _ = postForm(t, c, fe.URL+"/admin/lockouts/l1/lift", url.Values{"csrf_token": {token}})
	if _, page := get(t, c, fe.URL+"/admin/users"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(page, "The lock-out is lifted") {
		t.Errorf("lift: %d, then %.300s", resp.StatusCode, page)
	}
	resp, _ = postForm(t, c, fe.URL+"/admin/lockouts/l2/lift", url.Values{"csrf_token": {token}})
	if _, page := get(t, c, fe.URL+"/admin/users"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(page, "That lock-out no longer exists") {
		t.Errorf("lift a lock-out that ended: %d, then %.300s", resp.StatusCode, page)
	}
	// Every action asks first, except creating.
	for _, action := range []string{"password-reset", "sign-out", "delete"} {
		if !strings.Contains(page, `/`+action+`" class="inline" data-confirm=`) {
			t.Errorf("the %s form does not ask for confirmation", action)
		}
	}
}

func TestAdminInvitationsAreMailedWithMail(t *testing.T) {
	b := startStubBackend(t)
	b.accounts.mail.Store(true)
	fe := startFrontend(t, b.URL)
	c := signedInAs(t, fe.URL, adminPassword)
	token := pageToken(t, c, fe.URL+"/admin/users")
	resp, _ := postForm(t, c, fe.URL+"/admin/users", url.Values{"new_email": {"new@example.com"}, "new_role": {"admin"}, "csrf_token": {token}})
	_, page := get(t, c, fe.URL+"/admin/users")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(page, "Invitation sent to new@example.com") || strings.Contains(page, "token=") {
		t.Fatalf("create with mail: %d, then %.800s", resp.StatusCode, page)
	}
	// When the mail fails, the admin gets the link, and is told why.
	resp, page = postForm(t, c, fe.URL+"/admin/users", url.Values{"new_email": {"bounce@example.com"}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "The email could not be sent") || !strings.Contains(page, stubLinkURL) {
		t.Fatalf("create when the mail fails: %d %.1500s", resp.StatusCode, page)
	}
}

func TestAuditShowsEmailsAndFilters(t *testing.T) {
	b := startStubBackend(t)
	fe := startFrontend(t, b.URL)
	c := signedInAs(t, fe.URL, adminPassword)
	resp, page := get(t, c, fe.URL+"/admin/audit?email=new%40example.com&action=admin.user_invited&since=2030-01-01&until=2030-01-08")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("audit: %d", resp.StatusCode)
	}
	for _, want := range []string{">admin@example.com</a>", ">new@example.com</a>", "a deleted or unknown account"} {
		if !strings.Contains(page, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	if strings.Contains(page, ">0190-admin-uuid<") || strings.Contains(page, ">0190-new-uuid<") {
		t.Error("the audit page shows user ids as names")
	}
	var q url.Values
	b.accounts.record(func() { q = b.accounts.auditQuery })
	if q.Get("email") != "new@example.com" || q.Get("action") != api.AuditUserInvited ||
		q.Get("since") != "2030-01-01T00:00:00Z" || q.Get("until") != "2030-01-09T00:00:00Z" {
		t.Errorf("the backend was asked %v", q)
	}
	// Paging keeps the filters.
	if !strings.Contains(page, `href="/admin/audit?action=admin.user_invited&amp;email=new%40example.com&amp;offset=50&amp;since=2030-01-01&amp;until=2030-01-08"`) {
		t.Errorf("the next page link loses the filters: %.3000s", page)
	}
	if resp, page := get(t, c, fe.URL+"/admin/audit?since=yesterday"); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(page, "Enter a date like") {
		t.Errorf("a bad date: %d %.300s", resp.StatusCode, page)
	}
}
