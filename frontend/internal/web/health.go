package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// healthz: the process is alive, and which build it is.
func (a *app) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, api.Health{Status: "ok", Version: a.Version, Commit: a.Commit})
}

// readyz: the backend answers, so pages can work.
func (a *app) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if _, err := a.Backend.Healthz(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, api.Health{Status: "error", Checks: map[string]string{"backend": "unreachable"}})
	}
	return c.JSON(http.StatusOK, api.Health{Status: "ok", Checks: map[string]string{"backend": "ok"}})
}
