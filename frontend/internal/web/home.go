package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (a *app) home(c echo.Context) error {
	return c.Render(http.StatusOK, "home", a.newView(c, "Duckgate", "home", nil))
}
