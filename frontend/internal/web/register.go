package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

func (a *app) registerPage(c echo.Context) error {
	if userFrom(c) != nil {
		return redirect(c, "/")
	}
	return c.Render(http.StatusOK, "register", a.newView(c, "Create an account", "register", nil))
}

// register creates the account and sends the person to sign in.
func (a *app) register(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	values := map[string]string{"email": email}

	form := Form{Values: values, Errors: map[string]string{}}
	if email == "" {
		form.Errors["email"] = "Enter your email address."
	}
	if password != c.FormValue("password_confirm") {
		form.Errors["password_confirm"] = "The two passwords differ."
	}
	if len(form.Errors) == 0 {
		cl, ctx, cancel := a.api(c)
		defer cancel()
		_, err := cl.Register(ctx, api.RegisterRequest{Email: email, Password: password})
		if err == nil {
			a.setFlash(c, "Your account is ready. Sign in to start.")
			return redirect(c, "/login?email="+urlQuery(email))
		}
		f, ok := formWithProblem(err, values)
		if !ok {
			return err
		}
		form = f
	}
	v := a.newView(c, "Create an account", "register", nil)
	v.Form = form
	return c.Render(http.StatusUnprocessableEntity, "register", v)
}
