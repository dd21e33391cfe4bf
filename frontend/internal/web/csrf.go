package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// CSRF protection is a double submit: a random token lives in an HttpOnly
// cookie, and every page repeats it (meta tag, hidden form field). A
// state-changing request must send the same value back as the form field
// csrf_token or the header X-CSRF-Token. Another site can make the browser
// send the cookie, but cannot read the page to learn the value; SameSite=Lax
// and the Sec-Fetch-Site check are further walls.

const (
	csrfCookie = "dg_csrf"
	csrfField  = "csrf_token"
	csrfHeader = "X-CSRF-Token"
)

// csrfToken returns the request's token for the view.
func csrfToken(c echo.Context) string {
	t, _ := c.Get("csrf").(string)
	return t
}

// errCSRF is what a forged or stale request gets.
var errCSRF = echo.NewHTTPError(http.StatusForbidden,
	"This form has expired or was sent from another site. Reload the page and try again.")

// csrfProtect issues the token cookie and checks unsafe methods. For /api
// calls only the header counts: their body belongs to the backend.
func csrfProtect(secure bool) echo.MiddlewareFunc {
	name := csrfCookie
	if secure {
		name = "__Host-" + csrfCookie
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			var token string
			if ck, err := r.Cookie(name); err == nil && len(ck.Value) >= 32 {
				token = ck.Value
			}
			if !isSafeMethod(r.Method) {
				if token == "" || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
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
			if token == "" {
				token = newCSRFToken()
				http.SetCookie(c.Response(), &http.Cookie{
					Name: name, Value: token, Path: "/",
					HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
				})
			}
			c.Set("csrf", token)
			return next(c)
		}
	}
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

func newCSRFToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
