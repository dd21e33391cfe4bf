package web

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// overviewData is the admin's system state at a glance.
type overviewData struct {
	Stats   *api.Stats
	DB      *api.DBHealth
	DBError string
	Chart   []bar
}

// bar is one row of the AI usage chart, its length precomputed in percent
// so the SVG needs no inline style.
type bar struct {
	Label    string
	Requests int
	Tokens   int
	Width    int // 0..100, relative to the busiest model
}

// adminOverview shows stats, DB health and the purge button. The backend
// answers 403 to non-admins, which becomes the "not allowed" message page.
func (a *app) adminOverview(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	stats, err := cl.Stats(ctx)
	if err != nil {
		return err
	}
	data := overviewData{Stats: stats}
	if data.DB, err = cl.DBHealth(ctx); err != nil {
		data.DBError = "The database does not answer. " + explain(err).Message
	}
	data.Chart = usageChart(stats.AI.ByModel)
	return c.Render(http.StatusOK, "admin", a.newView(c, "Admin", "admin", data))
}

func usageChart(models []api.ModelUsage) []bar {
	max := 0
	for _, m := range models {
		max = maxInt(max, m.Requests)
	}
	bars := make([]bar, 0, len(models))
	for _, m := range models {
		bars = append(bars, bar{Label: m.Model, Requests: m.Requests, Tokens: m.Tokens,
			Width: m.Requests * 100 / maxInt(max, 1)})
	}
	return bars
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func (a *app) purgeTokens(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	res, err := cl.PurgeTokens(ctx)
	if err != nil {
		return err
	}
	a.setFlash(c, fmt.Sprintf("Purged %d expired or revoked tokens.", res.Purged))
	return redirect(c, "/admin")
}
