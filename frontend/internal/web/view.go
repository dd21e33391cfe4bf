package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"

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
func newView(c echo.Context, title, nav string, data any) *View {
	return &View{
		Title: title, Nav: nav, CSRF: csrfToken(c), User: userFrom(c),
		Flash: takeFlash(c), Data: data,
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
		f.Errors[fe.Field] = fe.Message
	}
	if len(f.Errors) == 0 {
		f.Error = problemMessage(p)
	}
	return f, true
}

const flashCookie = "dg_flash"

// setFlash leaves a one-time message for the next page (after a redirect).
func setFlash(c echo.Context, msg string) {
	http.SetCookie(c.Response(), &http.Cookie{
		Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func takeFlash(c echo.Context) string {
	ck, err := c.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	http.SetCookie(c.Response(), &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	msg, _ := url.QueryUnescape(ck.Value)
	return msg
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

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if len(next) < 1 || next[0] != '/' || (len(next) > 1 && (next[1] == '/' || next[1] == '\\')) {
		return "/chat"
	}
	return next
}
