package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/frontend/internal/session"
	"github.com/duckgate/duckgate/shared/api"
)

func urlQuery(s string) string { return url.QueryEscape(s) }

// afterSignIn is where a sign-in leads: the page that sent the person to
// sign in when it is one of this site's (see safeNext), else the chat.
func afterSignIn(next string) string {
	if next == "" {
		return "/chat"
	}
	return safeNext(next)
}

func (a *app) loginPage(c echo.Context) error {
	if userFrom(c) != nil {
		return redirect(c, afterSignIn(c.QueryParam("next")))
	}
	v := a.newView(c, "Sign in", "login", a.loginData(c))
	v.Form.Values = map[string]string{"email": c.QueryParam("email"), "next": c.QueryParam("next")}
	return c.Render(http.StatusOK, "login", v)
}

// loginData is what the sign-in page offers besides the form.
type loginData struct {
	// Recovery: the server mails reset links, so "Forgot password?" leads
	// somewhere.
	Recovery bool
}

func (a *app) loginData(c echo.Context) loginData {
	return loginData{Recovery: a.capabilities(c).PasswordRecovery}
}

// capabilities asks the backend what its sign-in offers; when it cannot
// tell, nothing extra is offered (the page still works).
func (a *app) capabilities(c echo.Context) api.AuthCapabilities {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	caps, err := cl.AuthCapabilities(ctx)
	if err != nil {
		a.Logger.WarnContext(ctx, "auth capabilities unknown", "err", err, "request_id", RequestID(ctx))
		return api.AuthCapabilities{}
	}
	return *caps
}

// login exchanges email and password for tokens, which go into HttpOnly
// cookies only. Without "keep me signed in" the backend gives the session
// its short lifetime and the cookies end with the browser session.
func (a *app) login(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	next := c.FormValue("next")
	keep := c.FormValue("remember") != ""
	cl, ctx, cancel := a.api(c)
	defer cancel()
	pair, err := cl.Login(ctx, api.LoginRequest{Email: email, Password: c.FormValue("password"), Remember: &keep})
	if err == nil {
		session.From(c).Start(pair, keep)
		a.csrf.rotate(c) // the new session's token: none from before counts
		return redirect(c, afterSignIn(next))
	}
	values := map[string]string{"email": email, "next": next}
	if keep {
		values["remember"] = "1"
	}
	form, ok := formWithProblem(err, values)
	if !ok {
		return err
	}
	var p *api.Problem
	if asProblem(err, &p) && p.Status == http.StatusUnauthorized {
		form.Error = "Wrong email or password."
	}
	v := a.newView(c, "Sign in", "login", a.loginData(c))
	v.Form = form
	status := http.StatusUnauthorized
	if p != nil && p.Status != 0 {
		status = p.Status
	}
	return c.Render(status, "login", v)
}
