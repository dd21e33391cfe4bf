package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// usageData is the /usage page: the caller's AI spend and tokens by day
// (a chart) and by model, and the month's budget.
type usageData struct {
	Period string // "month", "30" or "90"
	Usage  *api.UserUsage
	Chart  []dayBar
	// ChartWidth is the chart's viewBox width: 10 units a day.
	ChartWidth int
	MaxCost    float64
	// BudgetPercent is the share of the limit spent (0..100).
	BudgetPercent int
}

// dayBar is one day of the chart, its geometry precomputed (the CSP allows
// no inline styles, and SVG attributes need no script).
type dayBar struct {
	Day      string
	Cost     float64
	Requests int
	Tokens   int
	X, Y, H  int
}

// usagePeriods are the periods the page offers: days back from today, 0
// for the calendar month so far.
var usagePeriods = map[string]int{"month": 0, "30": 30, "90": 90}

func (a *app) usage(c echo.Context) error {
	period := c.QueryParam("period")
	days, ok := usagePeriods[period]
	if !ok {
		period, days = "month", 0
	}
	var from, to time.Time
	if days > 0 {
		to = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		from = to.AddDate(0, 0, -days)
	}
	cl, ctx, cancel := a.api(c)
	defer cancel()
	u, err := cl.MyUsage(ctx, from, to)
	if err != nil {
		return err
	}
	data := usageData{Period: period, Usage: u}
	data.Chart, data.MaxCost = usageChartByDay(u)
	data.ChartWidth = max(len(data.Chart)*10, 10)
	if b := u.Budget; b.LimitUSD != nil && *b.LimitUSD > 0 {
		data.BudgetPercent = min(int(b.SpentUSD / *b.LimitUSD * 100), 100)
	} else if b.LimitUSD != nil {
		data.BudgetPercent = 100
	}
	return c.Render(http.StatusOK, "usage", a.newView(c, "Your AI usage", "usage", data))
}

// usageChartByDay lays out one bar per day of the period, days without use
// included, as tall as the day's cost relative to the dearest day.
func usageChartByDay(u *api.UserUsage) ([]dayBar, float64) {
	byDay := map[string]api.UsageGroup{}
	maxCost := 0.0
	for _, g := range u.ByDay {
		byDay[g.Key] = g
		maxCost = max(maxCost, g.Cost)
	}
	var bars []dayBar
	for day := u.From.UTC().Truncate(24 * time.Hour); day.Before(u.To) && len(bars) < 400; day = day.Add(24 * time.Hour) {
		key := day.Format(time.DateOnly)
		g := byDay[key]
		h := 0
		if maxCost > 0 {
			h = int(g.Cost / maxCost * 90)
			if g.Cost > 0 && h == 0 {
				h = 1
			}
		}
		bars = append(bars, dayBar{Day: key, Cost: g.Cost, Requests: g.Requests, Tokens: g.PromptTokens + g.CompletionTokens,
			X: len(bars)*10 + 1, Y: 100 - h, H: h})
	}
	return bars, maxCost
}

// usd writes an amount of dollars with up to six decimals, at least two.
func usd(v float64) string {
	s := strconv.FormatFloat(v, 'f', 6, 64)
	end, dot := len(s), strings.IndexByte(s, '.')
	for end > dot+3 && s[end-1] == '0' {
		end--
	}
	return "$" + s[:end]
}
