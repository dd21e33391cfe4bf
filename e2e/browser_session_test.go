package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBrowserSessionRefreshAndSignOut checks the frontend's session handling
// against the real backend, at the HTTP level of a browser with a cookie
// jar: an expired access token is refreshed transparently, many requests
// racing with the same expired cookies cause one rotation (the backend would
// revoke the whole session on a reused refresh token), and signing out
// revokes the refresh token at the backend.
func TestBrowserSessionRefreshAndSignOut(t *testing.T) {
	backend := StartBackend(t, t.TempDir())
	frontend := StartFrontend(t, backend.URL)
	c := newCookieBrowser(t, frontend.URL)

	email := fmt.Sprintf("racer-%d@example.com", time.Now().UnixNano())
	c.post("/register", url.Values{"email": {email}, "password": {"race-car-1"}, "password_confirm": {"race-car-1"}}, http.StatusSeeOther)
	c.post("/login", url.Values{"email": {email}, "password": {"race-car-1"}}, http.StatusSeeOther)
	firstRefresh := c.cookie("dg_refresh")
	if len(c.binding()) != 22 || tokenOf(firstRefresh) == "" {
		t.Fatalf("refresh cookie %q is not <binding>~<token>", firstRefresh)
	}

	// The access cookie expires (Max-Age) and the browser drops it; the
	// backend's shortest token lifetime is a minute, so the test drops it.
	c.dropCookie("dg_access")

	const n = 12
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			resp, err := c.http.Get(frontend.URL + "/api/users/me")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("racing request %d after expiry: %d, want 200 (statuses %v)", i, s, statuses)
		}
	}
	if c.cookie("dg_refresh") == firstRefresh {
		t.Fatal("the refresh cookie was not rotated")
	}
	// The session survived the race: no reuse was detected.
	if body := c.get("/profile", http.StatusOK); !strings.Contains(body, email) {
		t.Fatalf("profile after the race does not show %s", email)
	}

	// This backend has no OpenRouter key: the AI pages say so instead of failing.
	if body := c.get("/chat", http.StatusOK); !strings.Contains(body, "AI is not available") {
		t.Fatalf("chat without AI configured shows no notice: %.600s", body)
	}

	// An access token the backend rejects although it looks valid (here a
	// forged one; in life a restarted backend with a new key): the proxy
	// refreshes and retries, a page refreshes and asks again.
	c.setCookie("dg_access", c.binding()+"~"+forgedToken())
	if body := c.get("/api/users/me", http.StatusOK); !strings.Contains(body, email) {
		t.Fatalf("/api/users/me after a rejected token: %s", body)
	}
	c.setCookie("dg_access", c.binding()+"~"+forgedToken())
	if body := c.get("/profile", http.StatusOK); !strings.Contains(body, email) {
		t.Fatalf("profile after a rejected token does not show %s", email)
	}

	last := tokenOf(c.cookie("dg_refresh"))
	c.post("/logout", url.Values{}, http.StatusSeeOther)
	if c.cookie("dg_refresh") != "" || c.cookie("dg_access") != "" {
		t.Fatal("sign-out left session cookies behind")
	}
	body, _ := json.Marshal(map[string]string{"refresh_token": last})
	resp, err := httpClient.Post(backend.URL+"/auth/refresh", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refresh token after sign-out: backend answered %d, want 401 (revoked)", resp.StatusCode)
	}
	if loc := c.redirect("/profile"); !strings.HasPrefix(loc, "/login") {
		t.Fatalf("signed-out /profile redirects to %q, want the sign-in page", loc)
	}
}

// cookieBrowser is a browser without JavaScript: cookies, forms and the
// page's CSRF token.
type cookieBrowser struct {
	t    *testing.T
	base string
	jar  *cookiejar.Jar
	http *http.Client
	csrf string
}

func newCookieBrowser(t *testing.T, base string) *cookieBrowser {
	jar, _ := cookiejar.New(nil)
	return &cookieBrowser{t: t, base: base, jar: jar, http: &http.Client{
		Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var csrfMetaTag = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

func (c *cookieBrowser) get(path string, want int) string {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
	}
	if m := csrfMetaTag.FindSubmatch(body); m != nil {
		c.csrf = string(m[1])
	}
	return string(body)
}

func (c *cookieBrowser) redirect(path string) string {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}

// post submits a form the way the page does, with the page's CSRF token.
func (c *cookieBrowser) post(path string, form url.Values, want int) {
	c.t.Helper()
	if c.csrf == "" {
		c.get("/", http.StatusOK)
	}
	form.Set("csrf_token", c.csrf)
	resp, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		c.t.Fatalf("POST %s: %d, want %d: %.300s", path, resp.StatusCode, want, body)
	}
	c.csrf = "" // a sign-in or sign-out rotates the token: the next post reads a page first
}

func (c *cookieBrowser) setCookie(name, value string) {
	u, _ := url.Parse(c.base)
	c.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func (c *cookieBrowser) dropCookie(name string) {
	u, _ := url.Parse(c.base)
	c.jar.SetCookies(u, []*http.Cookie{{Name: name, Path: "/", MaxAge: -1}})
}

// forgedToken looks like a live access token but carries no valid signature.
func forgedToken() string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"EdDSA","typ":"JWT"}`)) + "." +
		enc(fmt.Appendf(nil, `{"sub":"x","exp":%d}`, time.Now().Add(time.Hour).Unix())) + "." + enc([]byte("not-a-signature"))
}

// binding is the session's binding, which the frontend keeps in front of
// the tokens in its cookies ("<binding>~<token>").
func (c *cookieBrowser) binding() string {
	b, _, _ := strings.Cut(c.cookie("dg_refresh"), "~")
	return b
}

// tokenOf is the token in a session cookie's value.
func tokenOf(value string) string {
	_, token, _ := strings.Cut(value, "~")
	return token
}

func (c *cookieBrowser) cookie(name string) string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}
