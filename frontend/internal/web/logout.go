package web

import (
	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/frontend/internal/session"
)

// logout revokes the session at the backend, then forgets the cookies. The
// cookies go even when the backend cannot be reached: the person asked to
// sign out of this browser. The browser is also told to clear the site's
// storage and its HTTP cache: the account's images and videos are cached
// privately for the browser (the backend marks them private, max-age), and
// the next person on it must not find them there. Nothing of the account
// may outlive the session.
func (a *app) logout(c echo.Context) error {
	c.Response().Header().Set("Clear-Site-Data", `"cache", "storage"`)
	s := session.From(c)
	if rt := s.RefreshToken(); rt != "" {
		cl, ctx, cancel := a.api(c)
		defer cancel()
		if err := cl.Logout(ctx, rt); err != nil {
			a.Logger.WarnContext(ctx, "logout: backend revocation failed", "err", err, "request_id", RequestID(ctx))
		}
	}
	s.End()
	a.csrf.rotate(c) // the signed-in session's token ends with it
	a.setFlash(c, "You are signed out.")
	return redirect(c, "/")
}
