package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// profileData is the profile page: the account, its signed-in devices and
// its API keys.
type profileData struct {
	Sessions []api.Session
	// Hidden counts the sessions left out of a shortened list.
	Hidden int
	Keys   []api.APIKey
	// NewKey is the key just created: its secret is shown this once.
	NewKey *api.NewAPIKey
}

// sessionsShown bounds the devices listed by default: a script that signs
// in every few minutes leaves hundreds of live sessions, and a page listing
// them all is long to read and slow to render. ?sessions=all lists them all.
const sessionsShown = 10

// shownSessions puts the current session first, then the most recently
// used (the backend's order), keeping at most sessionsShown unless all.
func shownSessions(list []api.Session, all bool) (shown []api.Session, hidden int) {
	ordered := make([]api.Session, 0, len(list))
	for _, s := range list {
		if s.Current {
			ordered = append(ordered, s)
		}
	}
	for _, s := range list {
		if !s.Current {
			ordered = append(ordered, s)
		}
	}
	if all || len(ordered) <= sessionsShown {
		return ordered, 0
	}
	return ordered[:sessionsShown], len(ordered) - sessionsShown
}

func (a *app) profile(c echo.Context) error {
	return a.renderProfile(c, http.StatusOK, Form{})
}

func (a *app) renderProfile(c echo.Context, status int, form Form) error {
	return a.renderProfileWith(c, status, form, nil)
}

func (a *app) renderProfileWith(c echo.Context, status int, form Form, newKey *api.NewAPIKey) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	list, err := cl.Sessions(ctx)
	if err != nil {
		return err
	}
	keys, err := cl.APIKeys(ctx, 200, 0)
	if err != nil {
		return err
	}
	shown, hidden := shownSessions(list.Items, c.QueryParam("sessions") == "all")
	v := a.newView(c, "Your profile", "profile", profileData{Sessions: shown, Hidden: hidden, Keys: keys.Items, NewKey: newKey})
	v.Form = form
	if newKey != nil {
		c.Response().Header().Set("Cache-Control", "no-store") // the page holds a secret
	}
	return c.Render(status, "profile", v)
}

// keyLifetimes are the expiries the profile page offers, in days (0: never).
var keyLifetimes = map[string]int{"": 0, "30": 30, "90": 90, "365": 365}

// createAPIKey makes a key and shows the profile with its secret, once:
// the page answers the form post itself, so the secret is never in a URL
// or a cookie.
func (a *app) createAPIKey(c echo.Context) error {
	form, _ := c.FormParams()
	values := map[string]string{"key_name": strings.TrimSpace(c.FormValue("key_name")), "key_expires": c.FormValue("key_expires")}
	in := api.APIKeyRequest{Name: values["key_name"], Scopes: form["key_scopes"]}
	days, ok := keyLifetimes[values["key_expires"]]
	if !ok {
		return a.renderProfile(c, http.StatusUnprocessableEntity, Form{Values: values,
			Errors: map[string]string{"key_expires": "Choose one of the offered lifetimes."}})
	}
	if days > 0 {
		at := time.Now().UTC().AddDate(0, 0, days)
		in.ExpiresAt = &at
	}
	cl, ctx, cancel := a.api(c)
	defer cancel()
	key, err := cl.CreateAPIKey(ctx, in)
	if err == nil {
		return a.renderProfileWith(c, http.StatusOK, Form{}, key)
	}
	f, ok := formWithProblem(err, values)
	if !ok {
		return err
	}
	for field, msg := range f.Errors {
		delete(f.Errors, field)
		f.Errors["key_"+field] = msg
	}
	return a.renderProfile(c, explain(err).Status, f)
}

func (a *app) revokeAPIKey(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if err := cl.RevokeAPIKey(ctx, c.Param("id")); err != nil {
		return err
	}
	a.setFlash(c, "The API key is revoked: it stopped working at once.")
	return redirect(c, "/profile#api-keys")
}

func (a *app) changeEmail(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	return a.updateMe(c, api.UpdateMeRequest{Email: &email, CurrentPassword: c.FormValue("current_password")},
		map[string]string{"email": email}, "Your email address is now "+email+".")
}

func (a *app) changePassword(c echo.Context) error {
	password := c.FormValue("password")
	if password != c.FormValue("password_confirm") {
		return a.renderProfile(c, http.StatusUnprocessableEntity, Form{
			Errors: map[string]string{"password_confirm": "The two passwords differ."},
		})
	}
	return a.updateMe(c, api.UpdateMeRequest{Password: &password, CurrentPassword: c.FormValue("current_password")},
		nil, "Your password is changed. Your other devices were signed out.")
}

// updateMe sends a change and shows the outcome; a wrong current password
// (403) is shown next to that field.
func (a *app) updateMe(c echo.Context, req api.UpdateMeRequest, values map[string]string, done string) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	_, err := cl.UpdateMe(ctx, req)
	if err == nil {
		a.setFlash(c, done)
		return redirect(c, "/profile")
	}
	var p *api.Problem
	if !asProblem(err, &p) {
		return err
	}
	form, _ := formWithProblem(err, values)
	if p.Status == http.StatusForbidden {
		form = Form{Values: values, Errors: map[string]string{"current_password": "Your current password is not right."}}
	}
	return a.renderProfile(c, p.Status, form)
}

func (a *app) revokeSession(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if err := cl.RevokeSession(ctx, c.Param("id")); err != nil {
		return err
	}
	a.setFlash(c, "That device is signed out.")
	return redirect(c, "/profile")
}

func (a *app) revokeOtherSessions(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if err := cl.RevokeOtherSessions(ctx); err != nil {
		return err
	}
	a.setFlash(c, "All your other devices are signed out.")
	return redirect(c, "/profile")
}
