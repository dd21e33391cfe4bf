package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// Password recovery, signed out: /forgot asks for a link by mail, /reset
// sets a password with a link's one-time token. Invitations (an admin
// created the account) use /reset as well: their tokens begin with inv_.

// forgotSent is the one answer to a request for a link: the same whether
// or not the account exists.
const forgotSent = "If an account exists for that address, we sent a link to choose a new password. " +
	"It works once, for 30 minutes. Check your spam folder if it does not arrive."

// forgotData is the /forgot page.
type forgotData struct {
	// Available: the server has mail, so links can be sent.
	Available bool
	// Sent: a request went through; it is what the page says (forgotSent).
	Sent string
}

func (a *app) forgotPage(c echo.Context) error {
	data := forgotData{Available: a.capabilities(c).PasswordRecovery}
	v := a.newView(c, "Forgot password", "login", data)
	v.Form.Values = map[string]string{"email": c.QueryParam("email")}
	return c.Render(http.StatusOK, "forgot", v)
}

// forgot asks the backend to mail a link. Whatever happens to the address,
// the page says the same; only a malformed address, a throttled browser or
// a server without mail are told apart.
func (a *app) forgot(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	values := map[string]string{"email": email}
	v := a.newView(c, "Forgot password", "login", forgotData{Available: true})
	if email == "" {
		v.Form = Form{Values: values, Errors: map[string]string{"email": "Enter your email address."}}
		return c.Render(http.StatusUnprocessableEntity, "forgot", v)
	}
	cl, ctx, cancel := a.api(c)
	defer cancel()
	_, err := cl.ForgotPassword(ctx, email)
	if err == nil {
		v.Data = forgotData{Available: true, Sent: forgotSent}
		v.Form.Values = values
		return c.Render(http.StatusOK, "forgot", v)
	}
	var p *api.Problem
	if asProblem(err, &p) && p.Status == http.StatusServiceUnavailable {
		v.Data = forgotData{Available: false}
		return c.Render(http.StatusServiceUnavailable, "forgot", v)
	}
	form, ok := formWithProblem(err, values)
	if !ok {
		return err
	}
	v.Form = form
	return c.Render(explain(err).Status, "forgot", v)
}

// resetData is the /reset page.
type resetData struct {
	Token  string
	Invite bool // the link is an invitation: "Set your password"
	// Done: the password is set; Unusable: the link cannot be used (the
	// message says why). Either way the form is not shown.
	Done     bool
	Unusable string
	// Recovery: the server mails links, so a new one can be asked for.
	Recovery bool
}

// isInvitation reports whether token is an invitation's (the backend's
// tokens name their purpose: inv_ for invitations, rst_ for resets).
func isInvitation(token string) bool { return strings.HasPrefix(token, "inv_") }

func (r resetData) title() string {
	if r.Unusable != "" {
		return "This link does not work"
	}
	if r.Invite {
		return "Set your password"
	}
	return "Choose a new password"
}

func (a *app) resetPage(c echo.Context) error {
	token := c.QueryParam("token")
	data := resetData{Token: token, Invite: isInvitation(token)}
	status := http.StatusOK
	if token == "" {
		data.Unusable = linkIncomplete
		data.Recovery = a.capabilities(c).PasswordRecovery
		status = http.StatusBadRequest
	}
	return c.Render(status, "reset", a.newView(c, data.title(), "", data))
}

// reset sets the password. The token travels in the form, never in a
// cookie; the backend ends every session of the account.
func (a *app) reset(c echo.Context) error {
	token := c.FormValue("token")
	data := resetData{Token: token, Invite: isInvitation(token)}
	v := a.newView(c, data.title(), "", data)
	password := c.FormValue("password")
	if password != c.FormValue("password_confirm") {
		v.Form = Form{Errors: map[string]string{"password_confirm": "The two passwords differ."}}
		return c.Render(http.StatusUnprocessableEntity, "reset", v)
	}
	cl, ctx, cancel := a.api(c)
	defer cancel()
	err := cl.ResetPassword(ctx, token, password)
	if err == nil {
		data.Done = true
		v.Data = data
		return c.Render(http.StatusOK, "reset", v)
	}
	var p *api.Problem
	if !errors.As(err, &p) {
		return err
	}
	if p.Status == http.StatusBadRequest {
		data.Unusable = unusableLink(data.Invite)
		data.Recovery = !data.Invite && a.capabilities(c).PasswordRecovery
		v.Data, v.Title = data, data.title()
		return c.Render(http.StatusBadRequest, "reset", v)
	}
	form, _ := formWithProblem(err, nil)
	v.Form = form
	return c.Render(explain(err).Status, "reset", v)
}
