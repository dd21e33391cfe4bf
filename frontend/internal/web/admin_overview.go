package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// overviewData is the admin's system state at a glance.
type overviewData struct {
	Stats   *api.Stats
	DB      *api.DBHealth
	DBError string
	Chart   []bar
	// Spend is every user's AI use of the last 30 days, the dearest first.
	Spend []userSpend
}

// userSpend is one user's row of the admin's spend table.
type userSpend struct {
	User string // email, or the id of a user no longer listed
	api.UsageRow
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
	// The page's backend calls go out together: it takes as long as the
	// slowest of them, not their sum.
	var (
		data               overviewData
		statsErr, spendErr error
		wg                 sync.WaitGroup
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		data.Stats, statsErr = cl.Stats(ctx)
	}()
	go func() {
		defer wg.Done()
		var err error
		if data.DB, err = cl.DBHealth(ctx); err != nil {
			data.DBError = "The database does not answer. " + explain(err).Message
		}
	}()
	go func() {
		defer wg.Done()
		data.Spend, spendErr = spendByUser(ctx, cl)
	}()
	wg.Wait()
	if err := firstError(statsErr, spendErr); err != nil {
		return err
	}
	data.Chart = usageChart(data.Stats.AI.ByModel)
	return c.Render(http.StatusOK, "admin", a.newView(c, "Admin", "admin", data))
}

// firstError is the first error that is not nil: the one the error page
// explains.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// spendByUser is GET /admin/usage by user over 30 days, the dearest first,
// with the users' emails; both calls go out together.
func spendByUser(ctx context.Context, cl *client.Client) ([]userSpend, error) {
	var (
		report     *api.UsageReport
		users      *api.UserList
		rErr, uErr error
		wg         sync.WaitGroup
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		report, rErr = cl.Usage(ctx, client.UsageParams{Days: 30, GroupBy: "user"})
	}()
	go func() {
		defer wg.Done()
		users, uErr = cl.ListUsers(ctx, client.ListUsersParams{Limit: 200})
	}()
	wg.Wait()
	if err := firstError(rErr, uErr); err != nil {
		return nil, err
	}
	emails := map[string]string{}
	for _, u := range users.Items {
		emails[u.ID] = u.Email
	}
	out := make([]userSpend, 0, len(report.Rows))
	for _, r := range report.Rows {
		name := emails[r.Key]
		if name == "" {
			name = r.Key
		}
		out = append(out, userSpend{User: name, UsageRow: r})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Cost > out[j].Cost })
	return out, nil
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
