package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/duckgate/duckgate/frontend/internal/proxy"
	"github.com/duckgate/duckgate/frontend/internal/session"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// These tests exercise the frontend's own logic (CSRF, cookies, error pages)
// against a tiny stand-in that answers like the contract; the real backend
// is driven by the browser tests in e2e/.

const (
	testAccess  = "eyJhbGciOiJFZERTQSJ9.eyJleHAiOjQxMDI0NDQ4MDB9.access-secret"
	testRefresh = "refresh-secret-value"
	// The stub's admin signs in with adminPassword and gets these.
	testAdminAccess  = "eyJhbGciOiJFZERTQSJ9.eyJleHAiOjQxMDI0NDQ4MDB9.admin-access-secret"
	testAdminRefresh = "admin-refresh-secret-value"
	adminPassword    = "admin-password"
)

// stubSessions is how many live sessions the stub's user has; the last
// one listed is the current.
const stubSessions = 25

type stubBackend struct {
	*httptest.Server
	proxied    atomic.Int32
	operations atomic.Int32 // calls of /metrics, /docs, /openapi.json, /healthz, /readyz
	accounts   *stubAccountState
}

func startStubBackend(t *testing.T) *stubBackend {
	b := &stubBackend{}
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	problem := func(w http.ResponseWriter, p api.Problem) {
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(p)
	}
	mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) {
		var in api.LoginRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Password == adminPassword {
			writeJSON(w, api.TokenPair{AccessToken: testAdminAccess, RefreshToken: testAdminRefresh, TokenType: "bearer", ExpiresIn: 900})
			return
		}
		if in.Password != "right-password" {
			problem(w, api.Problem{Status: 401, Title: "Unauthorized", Detail: "invalid email or password"})
			return
		}
		writeJSON(w, api.TokenPair{AccessToken: testAccess, RefreshToken: testRefresh, TokenType: "bearer", ExpiresIn: 900})
	})
	mux.HandleFunc("POST /auth/register", func(w http.ResponseWriter, r *http.Request) {
		problem(w, api.Problem{Status: 422, Title: "Validation failed",
			Errors: []api.FieldError{{Field: "password", Message: "must be at least 8 characters"}}})
	})
	mux.HandleFunc("GET /users/me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+testAdminAccess {
			writeJSON(w, api.User{ID: "u0", Email: "admin@example.com", Role: "admin"})
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+testAccess {
			problem(w, api.Problem{Status: 401, Title: "Unauthorized"})
			return
		}
		writeJSON(w, api.User{ID: "u1", Email: "duck@example.com", Role: "user"})
	})
	mux.HandleFunc("GET /users/me/sessions", func(w http.ResponseWriter, r *http.Request) {
		list := api.SessionList{Items: []api.Session{}}
		for i := range stubSessions {
			list.Items = append(list.Items, api.Session{ID: fmt.Sprintf("s%02d", i), UserAgent: fmt.Sprintf("device-%02d", i),
				IP: "192.0.2.1", Current: i == stubSessions-1})
		}
		writeJSON(w, list)
	})
	stubIntegrators(mux)
	b.accounts = stubAccounts(mux)
	stubWorkspace(mux)
	mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, r *http.Request) {
		problem(w, api.Problem{Status: 403, Title: "Forbidden", Detail: "admin role required"})
	})
	mux.HandleFunc("GET /ai/models", func(w http.ResponseWriter, r *http.Request) {
		problem(w, api.Problem{Status: 503, Title: "Service Unavailable", Detail: aiNotConfigured})
	})
	mux.HandleFunc("GET /generate/video", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, api.VideoJobList{Items: []api.VideoJob{}})
	})
	mux.HandleFunc("/users/echo", func(w http.ResponseWriter, r *http.Request) {
		b.proxied.Add(1)
		_, _ = io.WriteString(w, "ok")
	})
	for _, path := range []string{"/metrics", "/docs", "/openapi.json", "/healthz", "/readyz"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			b.operations.Add(1)
			_, _ = io.WriteString(w, "backend_secret_metric 1\n")
		})
	}
	b.Server = httptest.NewServer(mux)
	t.Cleanup(b.Close)
	return b
}

func startFrontend(t testing.TB, backendURL string) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(backendURL)
	backend := client.New(backendURL)
	log := slog.New(slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e, err := New(Deps{
		Backend: backend,
		Sessions: session.NewManager(func(ctx context.Context, rt, ip, ua string) (*api.TokenPair, error) {
			return backend.Refresh(ctx, rt)
		}, session.Options{}),
		Proxy:  proxy.New(u, proxy.Options{ReplayBytes: 1 << 20}),
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

// aiNotConfigured is the backend's detail when OPENROUTER_API_KEY is unset.
const aiNotConfigured = "AI is not configured on this server: the operator must set OPENROUTER_API_KEY " +
	"(and OPENROUTER_BASE_URL for another endpoint) and restart the backend"

// signedInAs is a browser signed in to the frontend at base with password.
func signedInAs(t testing.TB, base, password string) *http.Client {
	t.Helper()
	c := browser(t)
	token := pageToken(t, c, base+"/login")
	resp, _ := postForm(t, c, base+"/login", url.Values{"email": {"someone@example.com"}, "password": {password}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d, want 303", resp.StatusCode)
	}
	return c
}

// signedIn is a browser signed in to the frontend at base as the stub's user.
func signedIn(t testing.TB, base string) *http.Client {
	t.Helper()
	c := browser(t)
	token := pageToken(t, c, base+"/login")
	postForm(t, c, base+"/login", url.Values{"email": {"duck@example.com"}, "password": {"right-password"}, "csrf_token": {token}})
	return c
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
func browser(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Jar: jar, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

func get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func postForm(t testing.TB, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// pageToken loads a page and returns the CSRF token it carries.
func pageToken(t testing.TB, c *http.Client, u string) string {
	t.Helper()
	_, body := get(t, c, u)
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page %s carries no csrf-token meta tag", u)
	}
	return m[1]
}

func TestFormsWithoutTheCSRFTokenAreRefused(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := browser(t)
	token := pageToken(t, c, fe.URL+"/login")

	for name, form := range map[string]url.Values{
		"missing": {"email": {"a@b.c"}, "password": {"right-password"}},
		"wrong":   {"email": {"a@b.c"}, "password": {"right-password"}, "csrf_token": {token + "x"}},
	} {
		resp, body := postForm(t, c, fe.URL+"/login", form)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Reload the page and try again") {
			t.Errorf("%s token: got %d, want 403 with a readable message page; body: %.200s", name, resp.StatusCode, body)
		}
	}
	// The same form with the page's token goes through.
	resp, _ := postForm(t, c, fe.URL+"/login", url.Values{"email": {"a@b.c"}, "password": {"right-password"}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("valid token: got %d, want 303", resp.StatusCode)
	}
}

func TestAPICallsNeedTheCSRFHeader(t *testing.T) {
	b := startStubBackend(t)
	fe := startFrontend(t, b.URL)
	c := browser(t)
	token := pageToken(t, c, fe.URL+"/")

	send := func(header, field, fetchSite string) int {
		body := url.Values{"csrf_token": {field}}.Encode()
		req, _ := http.NewRequest(http.MethodPost, fe.URL+"/api/users/echo", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			req.Header.Set("X-CSRF-Token", header)
		}
		if fetchSite != "" {
			req.Header.Set("Sec-Fetch-Site", fetchSite)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send("", token, ""); got != http.StatusForbidden {
		t.Errorf("token only in the body of an /api call: %d, want 403", got)
	}
	if got := send(token, "", "cross-site"); got != http.StatusForbidden {
		t.Errorf("cross-site request: %d, want 403", got)
	}
	if b.proxied.Load() != 0 {
		t.Fatalf("refused requests reached the backend")
	}
	if got := send(token, "", "same-origin"); got != http.StatusOK || b.proxied.Load() != 1 {
		t.Errorf("header token: %d (backend saw %d), want 200 proxied", got, b.proxied.Load())
	}
	// Reads need no token.
	if resp, _ := get(t, c, fe.URL+"/api/users/echo"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/users/echo: %d", resp.StatusCode)
	}
}

// /api forwards the API only: the backend's metrics, docs, OpenAPI
// document and health endpoints are not public through the frontend.
func TestBackendOperationsEndpointsAreNotBehindAPI(t *testing.T) {
	b := startStubBackend(t)
	fe := startFrontend(t, b.URL)
	for _, c := range []*http.Client{browser(t), signedIn(t, fe.URL)} {
		for _, path := range []string{"/api/metrics", "/api/docs", "/api/openapi.json", "/api/healthz", "/api/readyz"} {
			resp, body := get(t, c, fe.URL+path)
			if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "backend_secret_metric") {
				t.Errorf("GET %s: %d %.200s, want 404", path, resp.StatusCode, body)
			}
		}
	}
	if n := b.operations.Load(); n != 0 {
		t.Fatalf("the backend's operations endpoints were called %d times through /api", n)
	}
	// The frontend's own health endpoints answer for the frontend.
	if resp, body := get(t, browser(t), fe.URL+"/healthz"); resp.StatusCode != http.StatusOK || strings.Contains(body, "backend_secret") {
		t.Errorf("GET /healthz: %d %s", resp.StatusCode, body)
	}
}

func TestSignInKeepsTokensInHttpOnlyCookiesOnly(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := browser(t)
	token := pageToken(t, c, fe.URL+"/login?next=/profile")

	resp, _ := postForm(t, c, fe.URL+"/login", url.Values{
		"email": {"duck@example.com"}, "password": {"right-password"}, "csrf_token": {token}, "next": {"/profile"},
	})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/profile" {
		t.Fatalf("login: %d to %q, want 303 to /profile", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, ck := range resp.Cookies() {
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie %s is readable by scripts or cross-site: %+v", ck.Name, ck)
		}
	}
	_, home := get(t, c, fe.URL+"/")
	if !strings.Contains(home, "duck@example.com") {
		t.Fatalf("signed-in page does not show the user: %.300s", home)
	}
	for _, secret := range []string{testAccess, testRefresh, "access-secret"} {
		if strings.Contains(home, secret) {
			t.Fatalf("a token appears in the page HTML")
		}
	}
}

func TestRedirectAfterSignInStaysOnSite(t *testing.T) {
	for next, want := range map[string]string{
		"/videos":               "/videos",
		"/admin/users?q=a&x=1":  "/admin/users?q=a&x=1",
		"/chat#latest":          "/chat#latest",
		"/café":                 "/caf%C3%A9",
		"//evil.example":        "/",
		"https://evil.example/": "/",
		"javascript:alert(1)":   "/",
		`/\evil`:                "/",
		`/x\y`:                  "/",
		"/\t/evil.example":      "/",
		"/\r/":                  "/",
		"/\n/evil.example":      "/",
		" /videos":              "/",
		"/\x7f/evil.example":    "/",
		"/\u0085/evil.example":  "/",
		"/\xff":                 "/",
		"/%zz":                  "/",
		"evil.example":          "/",
		"":                      "/",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
	if afterSignIn("") != "/chat" || afterSignIn("/profile") != "/profile" || afterSignIn("//evil.example") != "/" {
		t.Errorf("afterSignIn: no next leads to the chat, a safe next to itself, anything else to /")
	}
}

// A browser strips tabs and newlines from a Location header, so a next of
// "/<TAB>/evil.example" must not come back as it is: the browser would
// follow "//evil.example" to another site.
func TestSignInNeverRedirectsOffSite(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	for _, next := range []string{"/\t/evil.example", "/\r/evil.example", "/\n/evil.example", "/\\evil.example", "//evil.example"} {
		c := browser(t)
		token := pageToken(t, c, fe.URL+"/login?next="+url.QueryEscape(next))
		resp, _ := postForm(t, c, fe.URL+"/login", url.Values{
			"email": {"duck@example.com"}, "password": {"right-password"}, "csrf_token": {token}, "next": {next}})
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("sign-in with next=%q: %d to %q, want 303 to /", next, resp.StatusCode, loc)
		}
		// Signed in already, /login?next= redirects at once.
		resp, _ = get(t, c, fe.URL+"/login?next="+url.QueryEscape(next))
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("signed-in GET /login?next=%q: %d to %q, want 303 to /", next, resp.StatusCode, loc)
		}
	}
}

func TestWrongPasswordAndValidationAreShownOnTheForm(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := browser(t)

	token := pageToken(t, c, fe.URL+"/login")
	resp, body := postForm(t, c, fe.URL+"/login", url.Values{"email": {"duck@example.com"}, "password": {"nope"}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password.") || !strings.Contains(body, `value="duck@example.com"`) {
		t.Errorf("wrong password: %d, want 401 with a message and the email kept; %.300s", resp.StatusCode, body)
	}

	token = pageToken(t, c, fe.URL+"/register")
	resp, body = postForm(t, c, fe.URL+"/register", url.Values{
		"email": {"duck@example.com"}, "password": {"short"}, "password_confirm": {"short"}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="password-error">Must be at least 8 characters.`) {
		t.Errorf("validation: %d, want 422 with the message next to the password field; %.500s", resp.StatusCode, body)
	}
}

func TestProtectedPagesSendAnonymousBrowsersToSignIn(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	for _, path := range []string{"/profile", "/chat", "/images", "/videos", "/admin", "/admin/users"} {
		resp, _ := get(t, browser(t), fe.URL+path)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape(path) {
			t.Errorf("%s: %d to %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestBackendProblemsBecomeTheMessagePage(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := signedIn(t, fe.URL)

	resp, body := get(t, c, fe.URL+"/admin")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "only for administrators") || strings.Contains(body, `"status"`) {
		t.Fatalf("403 from the backend: %d %s; want the HTML message page; %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = get(t, c, fe.URL+"/no-such-page")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "There is no page at this address.") {
		t.Fatalf("unknown page: %d %.300s", resp.StatusCode, body)
	}
}

// /api callers and other programs get the message of a page as a problem
// detail, written by the same package as the proxy's own problems.
func TestErrorsOfAPICallersAreProblemDetails(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	req, _ := http.NewRequest(http.MethodPost, fe.URL+"/api/users/echo", nil) // no CSRF token
	resp, err := browser(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p api.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != api.ProblemContentType || p.Type != api.TypeForbidden ||
		p.Status != 403 || p.Title != "Forbidden" || !strings.Contains(p.Detail, "Reload the page and try again.") ||
		p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-ID") {
		t.Fatalf("%d %s %+v", resp.StatusCode, resp.Header.Get("Content-Type"), p)
	}

	req, _ = http.NewRequest(http.MethodGet, fe.URL+"/no-such-page", nil)
	req.Header.Set("Accept", "application/json")
	resp, err = signedIn(t, fe.URL).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p = api.Problem{}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != 404 || p.Type != api.TypeNotFound || p.Detail != "There is no page at this address." {
		t.Fatalf("JSON caller of an unknown page: %d %+v", resp.StatusCode, p)
	}
}

func TestEveryPageCarriesSecurityHeaders(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	resp, _ := get(t, browser(t), fe.URL+"/login")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
		t.Errorf("missing nosniff or Referrer-Policy: %v", resp.Header)
	}
}

// testWriter sends the server's warnings and errors to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestGeneratorPagesExplainThatAIIsNotConfigured(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	user, admin := signedIn(t, fe.URL), signedInAs(t, fe.URL, adminPassword)

	for _, path := range []string{"/chat", "/images", "/videos"} {
		resp, body := get(t, user, fe.URL+path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "AI is not available on this server yet.") {
			t.Errorf("%s: %d; want the page with a notice; %.400s", path, resp.StatusCode, body)
		}
		if strings.Contains(body, "OPENROUTER") || strings.Contains(body, "operator") {
			t.Errorf("%s: an ordinary user is shown the operator's hint", path)
		}
		if !strings.Contains(body, "disabled") {
			t.Errorf("%s: the form should be disabled without models", path)
		}
		_, body = get(t, admin, fe.URL+path)
		if !strings.Contains(body, "AI is not available on this server yet. AI is not configured on this server: the operator must set OPENROUTER_API_KEY") {
			t.Errorf("%s: an admin is not shown the operator's hint; %.400s", path, body)
		}
	}
}

// The image page offers exactly the aspect ratios the backend accepts,
// from the one list in shared/api.
func TestImagePageOffersTheSharedAspectRatios(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	_, body := get(t, signedIn(t, fe.URL), fe.URL+"/images")
	picker := regexp.MustCompile(`(?s)<select id="image-ratio" name="aspect_ratio">(.*?)</select>`).FindStringSubmatch(body)
	if picker == nil {
		t.Fatalf("no aspect ratio picker on /images: %.400s", body)
	}
	var offered []string
	for _, m := range regexp.MustCompile(`<option value="([^"]*)">`).FindAllStringSubmatch(picker[1], -1) {
		offered = append(offered, m[1])
	}
	if want := api.ChatImageAspectRatios(); !slices.Equal(offered, want) {
		t.Errorf("the picker offers %q, want %q", offered, want)
	}
}

func TestProfileListsTheCurrentAndRecentSessionsAndOffersTheRest(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := signedIn(t, fe.URL)

	_, page := get(t, c, fe.URL+"/profile")
	rows := regexp.MustCompile(`<td title="device-\d+">device-(\d+)`).FindAllStringSubmatch(page, -1)
	if len(rows) != sessionsShown {
		t.Fatalf("profile lists %d sessions, want %d", len(rows), sessionsShown)
	}
	if current := fmt.Sprintf("%02d", stubSessions-1); rows[0][1] != current || rows[1][1] != "00" {
		t.Errorf("listed first %s then %s; want the current session (%s), then the backend's order", rows[0][1], rows[1][1], current)
	}
	if want := fmt.Sprintf("%d more signed-in sessions are not listed", stubSessions-sessionsShown); !strings.Contains(page, want) ||
		!strings.Contains(page, `href="/profile?sessions=all#sessions"`) {
		t.Errorf("no %q with a link to all of them", want)
	}

	_, page = get(t, c, fe.URL+"/profile?sessions=all")
	if n := strings.Count(page, `<td title="device-`); n != stubSessions || strings.Contains(page, "not listed") {
		t.Errorf("?sessions=all lists %d sessions, want all %d", n, stubSessions)
	}
}

// Nothing of an account outlives its session in the browser: the chat
// keeps nothing in the browser's storage (its conversations are the
// backend's), and signing out tells the browser to clear the site's
// storage all the same. (e2e/browser_accounts_test.go checks the outcome
// in Chromium.)
func TestSignOutClearsTheSiteStorage(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := signedIn(t, fe.URL)
	_, chat := get(t, c, fe.URL+"/chat")
	if !strings.Contains(chat, `id="chat"`) {
		t.Fatalf("no chat on /chat: %.600s", chat)
	}
	token := pageToken(t, c, fe.URL+"/profile")
	resp, _ := postForm(t, c, fe.URL+"/logout", url.Values{"csrf_token": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Clear-Site-Data") != `"cache", "storage"` {
		t.Fatalf("sign-out: %d, Clear-Site-Data %q; want 303 clearing the cache and the storage", resp.StatusCode, resp.Header.Get("Clear-Site-Data"))
	}
}
