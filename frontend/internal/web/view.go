package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// View is what every page template gets: the layout's needs (title, CSRF
// token, signed-in user, flash message) plus the page's own data and the
// state of its form.
type View struct {
	Title string
	Nav   string // which navigation entry is current
	CSRF  string
	User  *api.User
	Flash string
	// Form holds submitted values and per-field messages, to show a form
	// again after a validation error.
	Form   Form
	Notice string // a page-level message, e.g. "AI is not configured"
	Data   any
}

// Form is a re-displayed form.
type Form struct {
	Values map[string]string
	Errors map[string]string
	Error  string // a message not tied to one field
}

// IsAdmin reports whether the navigation shows the admin area. The backend
// still decides every admin request.
func (v *View) IsAdmin() bool { return v.User != nil && v.User.Role == api.RoleAdmin }

// newView fills the layout's part of a page's view.
func (a *app) newView(c echo.Context, title, nav string, data any) *View {
	return &View{
		Title: title, Nav: nav, CSRF: a.csrf.pageToken(c), User: userFrom(c),
		Flash: a.takeFlash(c), Data: data,
	}
}

// formWithProblem turns a backend problem into messages next to the fields
// (validation) or one message above the form.
func formWithProblem(err error, values map[string]string) (Form, bool) {
	var p *api.Problem
	if !errors.As(err, &p) {
		return Form{}, false
	}
	f := Form{Values: values, Errors: map[string]string{}}
	for _, fe := range p.Errors {
		f.Errors[fe.Field] = sentences(fe.Message)
	}
	if len(f.Errors) == 0 {
		f.Error = explain(err).Message
	}
	return f, true
}

const flashCookie = "dg_flash"

// setFlash leaves a one-time message for the next page (after a redirect).
func (a *app) setFlash(c echo.Context, msg string) {
	http.SetCookie(c.Response(), a.flashCookie(url.QueryEscape(msg), 60))
}

func (a *app) takeFlash(c echo.Context) string {
	ck, err := c.Cookie(a.flashCookie("", 0).Name)
	if err != nil || ck.Value == "" {
		return ""
	}
	http.SetCookie(c.Response(), a.flashCookie("", -1))
	msg, _ := url.QueryUnescape(ck.Value)
	return msg
}

// flashCookie is the flash message's cookie: Secure (and __Host-) like the
// session's when cookies are; a negative maxAge deletes it.
func (a *app) flashCookie(value string, maxAge int) *http.Cookie {
	name := flashCookie
	if a.CookieSecure {
		name = "__Host-" + flashCookie
	}
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, //nolint:gosec // Secure follows COOKIE_SECURE
		HttpOnly: true, Secure: a.CookieSecure, SameSite: http.SameSiteLaxMode}
}

type userKey struct{}

// userFrom returns the signed-in user loaded by loadUser, or nil.
func userFrom(c echo.Context) *api.User {
	u, _ := c.Request().Context().Value(userKey{}).(*api.User)
	return u
}

func withUser(c echo.Context, u *api.User) {
	r := c.Request()
	c.SetRequest(r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
}

// redirect answers a form post with 303 See Other.
func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }

// safeNext keeps a post-login redirect on this site. It accepts only a
// path of this site: one that parses with no scheme, host or user, begins
// with exactly one "/", and holds no control character (browsers strip
// tabs and newlines from a Location, so "/\t/evil.example" would become
// "//evil.example"), no backslash (browsers read it as "/") and no
// invalid UTF-8. Anything else falls back to "/". The result is the path
// re-encoded by net/url, so a Location header never carries raw non-ASCII.
func safeNext(next string) string {
	const home = "/"
	if len(next) == 0 || len(next) > maxNextLength || next[0] != '/' || strings.HasPrefix(next, "//") {
		return home
	}
	if !utf8.ValidString(next) || strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	out := u.String()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || len(out) > maxNextLength {
		return home
	}
	return out
}

// maxNextLength bounds a redirect target, before and after re-encoding: a
// longer one is no link of ours.
const maxNextLength = 2048
