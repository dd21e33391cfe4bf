package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/frontend/internal/session"
)

// CSRF protection has two walls.
//
// The first is net/http's CrossOriginProtection: a state-changing request
// whose Sec-Fetch-Site (or, from a browser that sends none, whose Origin)
// names another origin is refused, whatever it carries.
//
// The second is a signed double submit (OWASP): the token is a random nonce
// and an HMAC, under the frontend's CSRF secret, of that nonce and the
// session's binding (see package session: a random id fixed from sign-in to
// sign-out and carried inside the token cookies). It lives in an HttpOnly
// cookie, and every page repeats it (meta tag, hidden form field); a
// state-changing request must send the cookie's value back as the form
// field csrf_token or the header X-CSRF-Token, and the cookie must verify
// for the request's session. So a value chosen by someone else fails the
// HMAC, a token of another session (or of a signed-out browser) fails the
// binding, and a sign-in or sign-out, which changes the binding, makes
// every earlier token stale: both rotate the token at once.
//
// Signed-out browsers share the empty binding: their tokens guard the
// sign-in and sign-up forms against cross-site posts together with the
// first wall, but one signed-out browser's token would pass in another.

const (
	csrfCookie = "dg_csrf"
	csrfField  = "csrf_token"
	csrfHeader = "X-CSRF-Token"
)

// csrfNonceLen is the random part of a token, in bytes.
const csrfNonceLen = 16

// csrfKey holds the request's csrfState in the echo context.
const csrfKey = "csrf"

// csrfState is the request's token and the binding it was made for.
type csrfState struct{ token, binding string }

// errCSRF is what a forged, stale or cross-site request gets.
var errCSRF = echo.NewHTTPError(http.StatusForbidden,
	"This form has expired or was sent from another site. Reload the page and try again.")

// csrfGuard issues and checks the tokens of one frontend; every replica
// needs the same secret.
type csrfGuard struct {
	secret  []byte
	secure  bool
	origins *http.CrossOriginProtection
}

func newCSRFGuard(secret []byte, secure bool) *csrfGuard {
	return &csrfGuard{secret: secret, secure: secure, origins: http.NewCrossOriginProtection()}
}

func (g *csrfGuard) cookieName() string {
	if g.secure {
		return "__Host-" + csrfCookie
	}
	return csrfCookie
}

// protect checks unsafe methods and makes sure every page has a token of
// its session. For /api calls only the header counts: their body belongs
// to the backend. It runs after the session middleware.
func (g *csrfGuard) protect(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		binding := bindingOf(c)
		var token string
		if ck, err := r.Cookie(g.cookieName()); err == nil && g.valid(ck.Value, binding) {
			token = ck.Value
			// Also kept when this request is refused: its error page must
			// not replace a token other pages still hold.
			c.Set(csrfKey, csrfState{token: token, binding: binding})
		}
		if !isSafeMethod(r.Method) {
			if g.origins.Check(r) != nil || token == "" {
				return errCSRF
			}
			sent := r.Header.Get(csrfHeader)
			if sent == "" && !strings.HasPrefix(r.URL.Path, "/api/") {
				sent = c.FormValue(csrfField)
			}
			if subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
				return errCSRF
			}
		}
		return next(c)
	}
}

// pageToken is the token a page repeats: the cookie's when it is one of
// the session as it is now, else a new one (set as the cookie too). The
// session may have changed since protect ran: signed in, refreshed into a
// binding, or ended.
func (g *csrfGuard) pageToken(c echo.Context) string {
	binding := bindingOf(c)
	if st, ok := c.Get(csrfKey).(csrfState); ok && st.binding == binding {
		return st.token
	}
	return g.issue(c, binding)
}

// rotate replaces the token at once, for the session's binding as it is
// now: after a sign-in or a sign-out changed it, so that no token from
// before stays in the browser.
func (g *csrfGuard) rotate(c echo.Context) { g.issue(c, bindingOf(c)) }

func (g *csrfGuard) issue(c echo.Context, binding string) string {
	token := g.token(binding)
	http.SetCookie(c.Response(), &http.Cookie{ //nolint:gosec // Secure follows COOKIE_SECURE: false only for plain-HTTP development
		Name: g.cookieName(), Value: token, Path: "/",
		HttpOnly: true, Secure: g.secure, SameSite: http.SameSiteLaxMode,
	})
	c.Set(csrfKey, csrfState{token: token, binding: binding})
	return token
}

// token makes a new token for binding.
func (g *csrfGuard) token(binding string) string {
	nonce := make([]byte, csrfNonceLen)
	_, _ = rand.Read(nonce)
	return g.tokenWithNonce(nonce, binding)
}

// tokenWithNonce is nonce "." HMAC(nonce, binding), both base64url.
func (g *csrfGuard) tokenWithNonce(nonce []byte, binding string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString(nonce) + "." + enc.EncodeToString(g.mac(nonce, binding))
}

// valid reports whether token was made by this frontend for binding.
func (g *csrfGuard) valid(token, binding string) bool {
	enc := base64.RawURLEncoding.Strict()
	n, m, ok := strings.Cut(token, ".")
	if !ok || len(n) != enc.EncodedLen(csrfNonceLen) || len(m) != enc.EncodedLen(sha256.Size) {
		return false
	}
	nonce, err := enc.DecodeString(n)
	if err != nil {
		return false
	}
	sum, err := enc.DecodeString(m)
	if err != nil {
		return false
	}
	return hmac.Equal(sum, g.mac(nonce, binding))
}

func (g *csrfGuard) mac(nonce []byte, binding string) []byte {
	h := hmac.New(sha256.New, g.secret)
	h.Write([]byte("duckgate csrf v1\x00"))
	h.Write(nonce)
	h.Write([]byte{0})
	h.Write([]byte(binding))
	return h.Sum(nil)
}

// bindingOf is the binding of the request's session ("" when signed out).
func bindingOf(c echo.Context) string {
	if s := session.From(c); s != nil {
		return s.Binding()
	}
	return ""
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}
