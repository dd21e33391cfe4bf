package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// csrfCookieOf is the CSRF cookie a browser holds for base.
func csrfCookieOf(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == csrfCookie {
			return ck.Value
		}
	}
	return ""
}

// plantCSRFCookie replaces the browser's CSRF cookie, as a script on a
// sibling subdomain or a man in the middle of plain HTTP could.
func plantCSRFCookie(c *http.Client, base, value string) {
	u, _ := url.Parse(base)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: csrfCookie, Value: value, Path: "/"}})
}

// postWith posts form with the CSRF field set to token and extra headers.
func postWith(t *testing.T, c *http.Client, u, token string, form url.Values, headers map[string]string) int {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set(csrfField, token)
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var signIn = url.Values{"email": {"duck@example.com"}, "password": {"right-password"}}

// A cookie the attacker chose plus the same value in the form used to pass
// (any 32 characters did); now the cookie must be an HMAC of this frontend.
func TestSelfChosenCSRFCookieIsRefused(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	real := pageToken(t, browser(t), fe.URL+"/login")
	forged := []string{
		strings.Repeat("c", 43),
		strings.Repeat("A", 22) + "." + strings.Repeat("B", 43), // the shape of a token, another MAC
		real[:len(real)-2] + "AA",
		real + "x",
		"",
	}
	for _, c := range []*http.Client{browser(t), signedIn(t, fe.URL)} {
		for _, v := range forged {
			plantCSRFCookie(c, fe.URL, v)
			if got := postWith(t, c, fe.URL+"/login", v, url.Values{"email": {"a@b.c"}, "password": {"right-password"}}, nil); got != http.StatusForbidden {
				t.Errorf("planted cookie %q with the same field: POST /login %d, want 403", v, got)
			}
			if got := postWith(t, c, fe.URL+"/logout", v, nil, nil); got != http.StatusForbidden {
				t.Errorf("planted cookie %q with the same field: POST /logout %d, want 403", v, got)
			}
		}
	}
}

// A token is bound to its session: another browser's token is refused,
// even planted as the cookie too.
func TestCSRFTokenOfAnotherSessionIsRefused(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	alice, bob := signedIn(t, fe.URL), signedIn(t, fe.URL)
	aliceToken := pageToken(t, alice, fe.URL+"/profile")
	bobToken := pageToken(t, bob, fe.URL+"/profile")
	if aliceToken == bobToken {
		t.Fatal("two sessions got the same token")
	}
	if got := postWith(t, bob, fe.URL+"/profile/sessions/revoke-others", aliceToken, nil, nil); got != http.StatusForbidden {
		t.Errorf("Alice's token in Bob's form: %d, want 403", got)
	}
	plantCSRFCookie(bob, fe.URL, aliceToken)
	if got := postWith(t, bob, fe.URL+"/profile/sessions/revoke-others", aliceToken, nil, nil); got != http.StatusForbidden {
		t.Errorf("Alice's token as Bob's cookie and field: %d, want 403", got)
	}
	// A signed-out browser's token is not a session's either.
	anonymous := pageToken(t, browser(t), fe.URL+"/login")
	plantCSRFCookie(bob, fe.URL, anonymous)
	if got := postWith(t, bob, fe.URL+"/logout", anonymous, nil, nil); got != http.StatusForbidden {
		t.Errorf("a signed-out browser's token in Bob's session: %d, want 403", got)
	}
	// Bob's own token still works.
	plantCSRFCookie(bob, fe.URL, bobToken)
	if got := postWith(t, bob, fe.URL+"/logout", bobToken, nil, nil); got != http.StatusSeeOther {
		t.Errorf("Bob's own token: %d, want 303", got)
	}
}

// A request from another site is refused even with a valid token: the
// browser says where it comes from (Sec-Fetch-Site, or Origin from a
// browser that sends no Sec-Fetch-Site).
func TestCrossSiteRequestWithAValidTokenIsRefused(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := signedIn(t, fe.URL)
	token := pageToken(t, c, fe.URL+"/profile")
	for _, h := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site", "Origin": "http://sub." + strings.TrimPrefix(fe.URL, "http://")},
		{"Sec-Fetch-Site": "cross-site", "Origin": fe.URL},
	} {
		if got := postWith(t, c, fe.URL+"/logout", token, nil, h); got != http.StatusForbidden {
			t.Errorf("%v with a valid token: %d, want 403", h, got)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, fe.URL+"/api/users/echo", nil)
	req.Header.Set(csrfHeader, token)
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site /api call with a valid token: %v %v, want 403", resp.StatusCode, err)
	}
	for _, h := range []map[string]string{{"Origin": fe.URL}, {"Sec-Fetch-Site": "same-origin", "Origin": fe.URL}, {}} {
		c := signedIn(t, fe.URL)
		if got := postWith(t, c, fe.URL+"/logout", pageToken(t, c, fe.URL+"/profile"), nil, h); got != http.StatusSeeOther {
			t.Errorf("%v: %d, want 303", h, got)
		}
	}
}

// Signing in and signing out rotate the token: the one from before is
// refused afterwards, even where it is still the cookie.
func TestCSRFTokenDoesNotSurviveSignInOrSignOut(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := browser(t)
	before := pageToken(t, c, fe.URL+"/login")
	resp, err := c.PostForm(fe.URL+"/login", url.Values{"email": signIn["email"], "password": signIn["password"], csrfField: {before}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	if now := csrfCookieOf(t, c, fe.URL); now == "" || now == before {
		t.Fatalf("sign-in left the CSRF cookie %q (was %q): want a new one at once", now, before)
	}
	plantCSRFCookie(c, fe.URL, before)
	if got := postWith(t, c, fe.URL+"/logout", before, nil, nil); got != http.StatusForbidden {
		t.Fatalf("the signed-out token after sign-in: %d, want 403", got)
	}

	during := pageToken(t, c, fe.URL+"/profile")
	if during == before {
		t.Fatal("the signed-in page repeats the signed-out token")
	}
	if got := postWith(t, c, fe.URL+"/logout", during, nil, nil); got != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", got)
	}
	if now := csrfCookieOf(t, c, fe.URL); now == "" || now == during {
		t.Fatalf("sign-out left the CSRF cookie %q: want a new one at once", now)
	}
	plantCSRFCookie(c, fe.URL, during)
	if got := postWith(t, c, fe.URL+"/login", during, url.Values{"email": signIn["email"], "password": signIn["password"]}, nil); got != http.StatusForbidden {
		t.Fatalf("the signed-in token after sign-out: %d, want 403", got)
	}
}

// With COOKIE_SECURE the flash message's cookie is Secure and __Host-
// prefixed like the others.
func TestFlashCookieIsSecureWhenCookiesAre(t *testing.T) {
	for _, secure := range []bool{false, true} {
		a := &app{Deps: Deps{CookieSecure: secure}}
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
		a.setFlash(c, "You are signed out.")
		ck := rec.Result().Cookies()
		if len(ck) != 1 || ck[0].Secure != secure || strings.HasPrefix(ck[0].Name, "__Host-") != secure || !ck[0].HttpOnly {
			t.Errorf("secure=%v: flash cookie %+v", secure, ck)
		}
		// Taking it deletes the same cookie.
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(ck[0])
		rec = httptest.NewRecorder()
		if msg := a.takeFlash(echo.New().NewContext(req, rec)); msg != "You are signed out." {
			t.Errorf("secure=%v: took %q", secure, msg)
		}
		if del := rec.Result().Cookies(); len(del) != 1 || del[0].Name != ck[0].Name || del[0].MaxAge >= 0 || del[0].Secure != secure {
			t.Errorf("secure=%v: deleting cookie %+v", secure, del)
		}
	}
}
