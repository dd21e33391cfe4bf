package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// The admins' account tools on /admin/users: create (invite) a user, give
// a user a password-reset link, sign a user out everywhere, lift a
// sign-in lock-out. Links are mailed when the server has mail; otherwise
// the page shows the link this once for the admin to hand over.

// issuedLink is a one-time link for the admin to hand over.
type issuedLink struct {
	Email     string
	URL       string
	Invite    bool // an invitation (a new account), not a reset
	ExpiresAt time.Time
}

func (a *app) createUser(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("new_email"))
	role := c.FormValue("new_role")
	values := map[string]string{"new_email": email, "new_role": role}
	if email == "" {
		return a.renderUsers(c, http.StatusUnprocessableEntity, Form{Values: values,
			Errors: map[string]string{"new_email": "Enter the email address of the person to invite."}}, nil)
	}
	cl, ctx, cancel := a.api(c)
	defer cancel()
	created, err := cl.CreateUser(ctx, api.CreateUserRequest{Email: email, Role: role})
	if err != nil {
		form, ok := formWithProblem(err, values)
		if !ok {
			return err
		}
		for field, msg := range form.Errors {
			delete(form.Errors, field)
			form.Errors["new_"+field] = msg
		}
		return a.renderUsers(c, explain(err).Status, form, nil)
	}
	inv := created.Invitation
	if inv.Sent {
		a.setFlash(c, "Invitation sent to "+created.User.Email+": the link in it works once, until "+
			inv.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")+".")
		return redirect(c, backToUsers(c))
	}
	return a.renderUsers(c, http.StatusOK, Form{}, &issuedLink{Email: created.User.Email, URL: inv.URL,
		Invite: true, ExpiresAt: inv.ExpiresAt})
}

func (a *app) resetLink(c echo.Context) error {
	email := c.FormValue("email")
	cl, ctx, cancel := a.api(c)
	defer cancel()
	link, err := cl.PasswordResetLink(ctx, c.Param("id"))
	if err != nil {
		if msg, ok := adminProblem(err, "user"); ok {
			a.setFlash(c, msg)
			return redirect(c, backToUsers(c))
		}
		return err
	}
	if link.Sent {
		a.setFlash(c, "A link to choose a new password was mailed to "+email+".")
		return redirect(c, backToUsers(c))
	}
	return a.renderUsers(c, http.StatusOK, Form{}, &issuedLink{Email: email, URL: link.URL, ExpiresAt: link.ExpiresAt,
		Invite: strings.Contains(link.URL, "token=inv_")})
}

func (a *app) signOutUser(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if err := cl.SignOutUser(ctx, c.Param("id")); err != nil {
		if msg, ok := adminProblem(err, "user"); ok {
			a.setFlash(c, msg)
			return redirect(c, backToUsers(c))
		}
		return err
	}
	a.setFlash(c, c.FormValue("email")+" is signed out on every device.")
	return redirect(c, backToUsers(c))
}

func (a *app) liftLockout(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if err := cl.LiftLockout(ctx, c.Param("id")); err != nil {
		if msg, ok := adminProblem(err, "lock-out"); ok {
			a.setFlash(c, msg)
			return redirect(c, backToUsers(c)+"#lockouts")
		}
		return err
	}
	a.setFlash(c, "The lock-out is lifted: signing in works again at once.")
	return redirect(c, backToUsers(c)+"#lockouts")
}

// lockoutKind says in words whom a lock-out stops.
func lockoutKind(l api.Lockout) string {
	switch l.Kind {
	case "pair":
		return "This email, from this address"
	case "email":
		return "This email, from everywhere"
	case "ip":
		return "Every email, from this address"
	}
	return l.Kind
}
