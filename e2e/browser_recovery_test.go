package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/duckgate/duckgate/shared/mailtest"
)

// These journeys cover issue 14 in a real browser: password recovery by
// mail, an admin inviting a person (with mail, and without it by a link
// handed over), signing a user out everywhere, lifting a lock-out, the
// audit trail naming people, and "keep me signed in". Mail goes through a
// real SMTP server started by the test; the backend's links point at the
// frontend (PUBLIC_URL), so the frontend's address is chosen first.

const mailFrom = "duckgate <noreply@example.com>"

// mailedStack starts a backend that sends mail to a test SMTP server,
// with links to the frontend in front of it.
func mailedStack(t *testing.T, env ...string) (smtp *mailtest.Server, backend, frontend *Proc) {
	t.Helper()
	smtp = mailtest.Start(t, mailtest.Options{})
	feAddr := FreeAddr(t)
	env = append([]string{"SMTP_URL=" + smtp.URL(), "MAIL_FROM=" + mailFrom, "PUBLIC_URL=http://" + feAddr}, env...)
	backend = StartBackend(t, t.TempDir(), env...)
	frontend = StartFrontendAt(t, feAddr, backend.URL)
	return smtp, backend, frontend
}

var mailedLink = regexp.MustCompile(`https?://\S+/reset\?token=[A-Za-z0-9_%-]+`)

// linkIn returns the one link of a mail, which must point at the frontend.
func linkIn(t *testing.T, m mailtest.Message, frontend *Proc) string {
	t.Helper()
	link := mailedLink.FindString(m.Text)
	if link == "" || !strings.Contains(m.HTML, link) {
		t.Fatalf("mail %q carries no /reset link in its text and HTML parts:\n%s", m.Subject, m.Text)
	}
	if !strings.HasPrefix(link, frontend.URL+"/reset?token=") {
		t.Fatalf("mailed link %q does not point at the frontend %s", link, frontend.URL)
	}
	return strings.TrimPrefix(link, frontend.URL)
}

// signIn fills the sign-in form; keep ticks "Keep me signed in".
func (b *browser) signIn(email, password string, keep bool) {
	b.t.Helper()
	b.open("/login")
	if keep {
		b.do("keep me signed in", 5*time.Second, chromedp.Click(css("#remember")))
	}
	b.submit("sign in as "+email, map[string]string{"#email": email, "#password": password}, `main button[type=submit]`)
}

// signedInAs fails unless the navigation shows email.
func (b *browser) signedInAs(email string) {
	b.t.Helper()
	b.waitFor("signed in as "+email, fmt.Sprintf(`(document.querySelector("nav a[title='Your profile']") || {}).textContent === %q`, email), 5*time.Second)
}

// fitsNarrowScreen checks the page at 360 px wide: nothing scrolls sideways.
func (b *browser) fitsNarrowScreen(where string) {
	b.t.Helper()
	b.do("narrow "+where, 5*time.Second, chromedp.EmulateViewport(360, 740))
	if w := evaluate[int](b, `window.innerWidth`); w != 360 {
		b.fail("narrow "+where, fmt.Errorf("the viewport is %d px wide, want 360", w))
	}
	if w := evaluate[int](b, `document.documentElement.scrollWidth`); w > 360 {
		wide := evaluate[string](b, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 360)
			.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "")).join(", ")`)
		b.fail("narrow "+where, fmt.Errorf("the page is %d px wide at 360 px: it scrolls sideways (%s)", w, wide))
	}
}

func TestBrowserForgotPasswordMailResetAndSignIn(t *testing.T) {
	smtp, backend, frontend := mailedStack(t)
	email := fmt.Sprintf("forgetful-%d@example.com", time.Now().UnixNano())
	const oldPassword, newPassword = "old-password-1", "brand-new-password-2"
	register(t, backend.URL, email, oldPassword)

	b := newBrowser(t, frontend.URL)
	b.open("/login")
	b.submit("forgot password?", nil, "#forgot-link")
	if p := b.path(); p != "/forgot" {
		b.fail("forgot link", fmt.Errorf("went to %s, want /forgot", p))
	}
	b.fitsNarrowScreen("/forgot")

	// An address without an account gets the same answer, and no mail.
	const neutral = "If an account exists for that address, we sent a link"
	b.submit("ask for nobody", map[string]string{"#email": "nobody-here@example.com"}, `main button[type=submit]`)
	if got := b.text("#forgot-sent"); !strings.Contains(got, neutral) {
		b.fail("neutral answer", fmt.Errorf("the page says %q", got))
	}
	b.open("/forgot")
	b.submit("ask for "+email, map[string]string{"#email": email}, `main button[type=submit]`)
	if got := b.text("#forgot-sent"); !strings.Contains(got, neutral) {
		b.fail("neutral answer", fmt.Errorf("the page says %q", got))
	}

	m := smtp.WaitFor(t, email, "Reset your duckgate password", 20*time.Second)
	link := linkIn(t, m, frontend)
	for _, other := range smtp.Messages() {
		if strings.Contains(other.To, "nobody-here") {
			t.Fatalf("a mail went to an address without an account: %q", other.Subject)
		}
	}

	b.open(link)
	if h := b.text("h1"); h != "Choose a new password" {
		b.fail("reset page", fmt.Errorf("heading %q", h))
	}
	b.fitsNarrowScreen("/reset")
	b.submit("mismatched passwords", map[string]string{"#password": newPassword, "#password_confirm": "something-else-3"}, `main button[type=submit]`)
	if got := b.text("#password_confirm-error"); got != "The two passwords differ." {
		b.fail("mismatch", fmt.Errorf("the page says %q", got))
	}
	b.submit("set a new password", map[string]string{"#password": newPassword, "#password_confirm": newPassword}, `main button[type=submit]`)
	if got := b.text("#reset-done"); !strings.Contains(got, "Your password is changed") {
		b.fail("reset done", fmt.Errorf("the page says %q", got))
	}
	b.submit("go to sign in", nil, "#reset-sign-in")
	if p := b.path(); p != "/login" {
		b.fail("sign-in link", fmt.Errorf("went to %s, want /login", p))
	}
	b.signIn(email, newPassword, false)
	b.signedInAs(email)

	// The old password is gone, and the link worked once.
	if code := loginStatus(t, backend.URL, email, oldPassword); code != http.StatusUnauthorized {
		t.Fatalf("the old password still signs in: %d", code)
	}
	b.open(link)
	b.submit("use the link again", map[string]string{"#password": "third-password-4", "#password_confirm": "third-password-4"}, `main button[type=submit]`)
	if got := b.text("#reset-unusable"); !strings.Contains(got, "already used") {
		b.fail("used link", fmt.Errorf("the page says %q", got))
	}
}

func TestBrowserAdminInvitesAPersonWhoSetsAPasswordAndSignsIn(t *testing.T) {
	smtp, _, frontend := mailedStack(t)
	invitee := fmt.Sprintf("invited-%d@example.com", time.Now().UnixNano())

	admin := newBrowser(t, frontend.URL)
	admin.signIn(AdminEmail, AdminPassword, true)
	admin.signedInAs(AdminEmail)
	admin.open("/admin/users")
	admin.submit("invite "+invitee, map[string]string{"#new-email": invitee}, "#create-user-submit")
	if got := admin.text(".flash"); !strings.Contains(got, "Invitation sent to "+invitee) {
		admin.fail("invitation sent", fmt.Errorf("the page says %q", got))
	}

	m := smtp.WaitFor(t, invitee, "You are invited", 20*time.Second)
	link := linkIn(t, m, frontend)

	person := newBrowser(t, frontend.URL)
	person.open(link)
	if h := person.text("h1"); h != "Set your password" {
		person.fail("invitation page", fmt.Errorf("heading %q", h))
	}
	person.fitsNarrowScreen("/reset (invitation)")
	const password = "my-own-password-5"
	person.submit("set password", map[string]string{"#password": password, "#password_confirm": password}, `main button[type=submit]`)
	if got := person.text("#reset-done"); !strings.Contains(got, "Your password is set") {
		person.fail("invitation accepted", fmt.Errorf("the page says %q", got))
	}
	person.signIn(invitee, password, false)
	person.signedInAs(invitee)

	// The audit trail names both people, filtered by the invitee's email.
	admin.open("/admin/audit?email=" + invitee)
	rows := evaluate[[]string](admin, `[...document.querySelectorAll("#audit tbody tr")].map(r => r.innerText)`)
	var invited, accepted bool
	uuid := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	for _, r := range rows {
		if uuid.MatchString(r) {
			admin.fail("audit", fmt.Errorf("a row shows a UUID instead of a person: %q", r))
		}
		if !strings.Contains(r, invitee) {
			admin.fail("audit filter", fmt.Errorf("a row without %s: %q", invitee, r))
		}
		invited = invited || strings.Contains(r, "admin.user_invited") && strings.Contains(r, AdminEmail)
		accepted = accepted || strings.Contains(r, "auth.invitation_accepted")
	}
	if !invited || !accepted {
		admin.fail("audit", fmt.Errorf("want the invitation by %s and its acceptance, have %q", AdminEmail, rows))
	}
	// The action filter narrows it down, and keeps the email.
	admin.do("filter by action", 5*time.Second, chromedp.SetValue(css("#audit-action"), "auth.invitation_accepted"))
	admin.submit("filter", nil, ".audit-filter button[type=submit]")
	rows = evaluate[[]string](admin, `[...document.querySelectorAll("#audit tbody tr")].map(r => r.innerText)`)
	if len(rows) != 1 || !strings.Contains(rows[0], "auth.invitation_accepted") {
		admin.fail("audit action filter", fmt.Errorf("rows %q", rows))
	}
}

// Without mail the admin hands the link over; the admin can then sign the
// person out everywhere and lift their lock-out.
func TestBrowserAdminWithoutMailHandsOverALinkSignsOutAndLiftsALockout(t *testing.T) {
	backend := StartBackend(t, t.TempDir(), "LOGIN_MAX_FAILURES=2", "ACCESS_TOKEN_TTL=2s")
	frontend := StartFrontend(t, backend.URL)
	invitee := fmt.Sprintf("handed-%d@example.com", time.Now().UnixNano())
	row := fmt.Sprintf(`tr[data-email=%q]`, invitee)

	admin := newBrowser(t, frontend.URL)
	admin.signIn(AdminEmail, AdminPassword, true)
	admin.open("/login")
	if n := evaluate[int](admin, `document.querySelectorAll("#forgot-link").length`); n != 0 {
		admin.fail("no forgot link", fmt.Errorf("a server without mail offers Forgot password?"))
	}
	admin.open("/admin/users")
	admin.submit("create "+invitee, map[string]string{"#new-email": invitee}, "#create-user-submit")
	link := admin.text("#issued-link-url")
	if !strings.HasPrefix(link, "http") || !strings.Contains(link, "/reset?token=inv_") ||
		evaluate[int](admin, `document.querySelectorAll("#copy-link").length`) != 1 {
		admin.fail("one-time link", fmt.Errorf("want the invitation link with a copy button, have %q", link))
	}
	// The users page, link and lock-outs included, fits a phone too.
	admin.fitsNarrowScreen("/admin/users")
	admin.do("wide again", 5*time.Second, chromedp.EmulateViewport(1280, 900))
	// The link is the server's PUBLIC_URL's; this frontend serves its path.
	path := link[strings.Index(link, "/reset?"):]

	person := newBrowser(t, frontend.URL)
	person.open("/forgot")
	if got := person.text("#forgot-unavailable"); !strings.Contains(got, "cannot send email") {
		person.fail("forgot without mail", fmt.Errorf("the page says %q", got))
	}
	person.open(path)
	const password = "handed-over-password-6"
	person.submit("set password", map[string]string{"#password": password, "#password_confirm": password}, `main button[type=submit]`)
	person.signIn(invitee, password, false)
	person.signedInAs(invitee)

	// Signed out everywhere: the person's next page asks them to sign in
	// (once the short access token ran out and the refresh is refused).
	admin.open("/admin/users?q=" + invitee)
	admin.submit("sign out everywhere", nil, row+` form[action$="/sign-out"] button`)
	if got := admin.text(".flash"); !strings.Contains(got, "signed out on every device") {
		admin.fail("signed out", fmt.Errorf("the page says %q", got))
	}
	time.Sleep(2500 * time.Millisecond)
	person.open("/profile")
	if p := person.path(); !strings.HasPrefix(p, "/login") {
		person.fail("signed out everywhere", fmt.Errorf("/profile still open at %s", p))
	}

	// Two wrong passwords lock the person out; the admin lifts it.
	for range 2 {
		loginStatus(t, backend.URL, invitee, "wrong-password-0")
	}
	person.signIn(invitee, password, false)
	if got := person.text(".form-error"); !strings.Contains(got, "Wait") {
		person.fail("locked out", fmt.Errorf("the page says %q", got))
	}
	admin.open("/admin/users")
	if got := admin.text("#lockout-list " + row); !strings.Contains(got, "This email, from this address") {
		admin.fail("lock-out listed", fmt.Errorf("row %q", got))
	}
	admin.submit("lift", nil, "#lockout-list "+row+" button")
	if got := admin.text(".flash"); !strings.Contains(got, "lock-out is lifted") {
		admin.fail("lifted", fmt.Errorf("the page says %q", got))
	}
	if n := evaluate[int](admin, `document.querySelectorAll("#lockout-list `+strings.ReplaceAll(row, `"`, `\"`)+`").length`); n != 0 {
		admin.fail("lifted", fmt.Errorf("the lock-out is still listed"))
	}
	person.signIn(invitee, password, false)
	person.signedInAs(invitee)

	// A reset link, handed over too.
	admin.open("/admin/users?q=" + invitee)
	admin.submit("reset link", nil, row+` form[action$="/password-reset"] button`)
	if got := admin.text("#issued-link"); !strings.Contains(got, "Password reset link for "+invitee) ||
		!strings.Contains(admin.text("#issued-link-url"), "/reset?token=rst_") {
		admin.fail("reset link", fmt.Errorf("the page says %q", got))
	}
}

// "Keep me signed in" decides whether the session outlives the browser:
// without it the cookies are browser-session cookies and the backend's
// session is short (SHORT_SESSION_TTL); with it, both last.
func TestBrowserKeepMeSignedIn(t *testing.T) {
	backend := StartBackend(t, t.TempDir(), "SHORT_SESSION_TTL=1h")
	frontend := StartFrontend(t, backend.URL)
	email := fmt.Sprintf("keeper-%d@example.com", time.Now().UnixNano())
	const password = "keep-me-please-7"
	register(t, backend.URL, email, password)

	for _, keep := range []bool{false, true} {
		b := newBrowser(t, frontend.URL)
		b.signIn(email, password, keep)
		b.signedInAs(email)
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base}})
		cancel()
		if err != nil {
			b.fail("cookies", err)
		}
		seen := 0
		for _, c := range res.Cookies {
			if c.Name != "dg_refresh" && c.Name != "dg_access" {
				continue
			}
			seen++
			if c.Session == keep {
				b.fail("cookies", fmt.Errorf("keep me signed in %v: cookie %s is a browser-session cookie: %v", keep, c.Name, c.Session))
			}
			if keep && c.Name == "dg_refresh" && time.Until(time.Unix(int64(c.Expires), 0)) < 24*time.Hour {
				b.fail("cookies", fmt.Errorf("kept: the refresh cookie expires at %v", time.Unix(int64(c.Expires), 0)))
			}
		}
		if seen != 2 {
			b.fail("cookies", fmt.Errorf("want the access and refresh cookies, have %d", seen))
		}
		ctx, cancel = context.WithTimeout(b.ctx, 10*time.Second)
		hours, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`fetch("/api/users/me/sessions").then(r => r.json())
			.then(j => (Date.parse(j.items.find(s => s.current).expires_at) - Date.now()) / 3600000)`, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			b.fail("sessions", err)
		}
		if short := hours <= 1.01; short == keep {
			b.fail("session lifetime", fmt.Errorf("keep me signed in %v: the backend's session lasts %.1f hours", keep, hours))
		}
	}
}

// loginStatus signs in through the backend's API and returns the status.
func loginStatus(t *testing.T, backendURL, email, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := httpClient.Post(backendURL+"/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
