package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/frontend/internal/session"
	"github.com/duckgate/duckgate/shared/api"
)

// resolveLikeBrowser resolves a Location header value against the page's
// URL as the URL standard has a browser do it for an http(s) URL: leading
// and trailing C0 controls and spaces are trimmed, tabs and newlines are
// removed wherever they are, and a backslash counts as a slash.
func resolveLikeBrowser(base *url.URL, location string) (*url.URL, error) {
	location = strings.TrimFunc(location, func(r rune) bool { return r <= 0x20 })
	location = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, location)
	ref, err := url.Parse(location)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

// plainPath is a next that needs no checking: it must come back unchanged
// (up to the length limit).
var plainPath = regexp.MustCompile(`^/([A-Za-z0-9_.~-][A-Za-z0-9/_.~=&?-]*)?$`)

// FuzzSafeNext: whatever next a link carries, the page a browser lands on
// after sign-in is on this site, and plain paths of this site are kept.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{
		"/chat", "/admin/users?q=a", "//evil.example", "/\\evil", "/\t/evil.example", "/\r/", "/\n/\n/evil",
		"https://evil.example", "/%2F/evil", "/%09/evil", "\t//evil", "/\x00", "/caf\u00e9", "/a#//evil", "///evil",
		"/.//evil", "/\u2028/evil", "/@evil.example", "/:@evil", "/?next=//evil",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://duckgate.example/login?next=x")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		landed, err := resolveLikeBrowser(base, got)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q, which does not parse: %v", next, got, err)
		}
		if landed.Scheme != base.Scheme || landed.Host != base.Host || landed.User != nil {
			t.Fatalf("safeNext(%q) = %q leads a browser to %s", next, got, landed)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
			t.Fatalf("safeNext(%q) = %q is not a path of this site", next, got)
		}
		if again := safeNext(got); again != got {
			t.Fatalf("safeNext is not stable: %q -> %q -> %q", next, got, again)
		}
		if plainPath.MatchString(next) && len(next) <= maxNextLength && got != next {
			t.Fatalf("safeNext(%q) = %q, want the plain path kept", next, got)
		}
	})
}

// FuzzCSRFCheck: a state-changing request passes the CSRF check only with
// a token this frontend made for the request's session, as the cookie and
// again as the header (or, without the header, the form field). Random,
// altered or another session's tokens never pass, and nothing panics.
func FuzzCSRFCheck(f *testing.F) {
	secret := []byte("fuzz-secret-fuzz-secret-fuzz-sec")
	g := newCSRFGuard(secret, false)
	nonce := []byte("0123456789abcdef")
	const binding = "fuzz-binding-012345678"
	anonymous, signedIn := g.tokenWithNonce(nonce, ""), g.tokenWithNonce(nonce, binding)

	sessions := session.NewManager(func(context.Context, string, string, string) (*api.TokenPair, error) {
		return nil, errors.New("no refresh in this test")
	}, session.Options{})
	e := echo.New()
	e.Use(sessions.Middleware(), g.protect)
	e.POST("/form", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })

	for _, s := range []string{anonymous, signedIn} {
		f.Add(s, s, "", false)
		f.Add(s, s, "", true)
		f.Add(s, "", s, true)
		f.Add(s, s[:len(s)-1]+"A", "", true)
	}
	f.Add(strings.Repeat("c", 43), strings.Repeat("c", 43), "", false)
	f.Add("", "", "", false)
	f.Fuzz(func(t *testing.T, cookie, field, header string, withSession bool) {
		req := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader(url.Values{csrfField: {field}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		cookies := csrfCookie + "=" + cookie
		want := anonymous
		if withSession {
			// A live-looking session under binding (the access token is far from expiry).
			cookies += "; dg_access=" + binding + "~eyJhbGciOiJFZERTQSJ9.eyJleHAiOjQxMDI0NDQ4MDB9.sig; dg_refresh=" + binding + "~r"
			want = signedIn
		}
		req.Header.Set("Cookie", cookies)
		if header != "" {
			req.Header.Set(csrfHeader, header)
		}
		sentCookie := ""
		if c, err := req.Cookie(csrfCookie); err == nil {
			sentCookie = c.Value
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		passed := rec.Code == http.StatusNoContent
		sent := req.Header.Get(csrfHeader)
		if sent == "" {
			sent = field
		}
		if should := sentCookie == want && sent == want; passed != should {
			t.Fatalf("cookie %q, field %q, header %q, session %v: passed %v (status %d), want %v",
				cookie, field, header, withSession, passed, rec.Code, should)
		}
	})
}
