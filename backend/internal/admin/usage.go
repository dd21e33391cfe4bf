package admin

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Bounds and defaults of GET /admin/usage.
const (
	DefaultUsageDays = 30
	MaxUsageDays     = 365
)

// aiStats is the ai part of GET /admin/stats: generation calls of the last
// 24 hours, by model.
func (s *Service) aiStats(ctx context.Context) (api.AIStats, error) {
	st, err := s.store.AIStats(ctx, s.now().Add(-24*time.Hour))
	if err != nil {
		return api.AIStats{}, fmt.Errorf("admin: ai stats: %w", err)
	}
	out := api.AIStats{Requests24h: st.Requests, ByModel: make([]api.ModelUsage, 0, len(st.ByModel))}
	for _, m := range st.ByModel {
		out.ByModel = append(out.ByModel, api.ModelUsage{Model: m.Model, Requests: m.Requests, Tokens: m.Tokens})
	}
	return out, nil
}

// UsageQuery reads the days and group_by parameters of GET /admin/usage
// (empty strings take the defaults: 30 days, by model).
func UsageQuery(days, groupBy string) (int, string, error) {
	n := DefaultUsageDays
	var fields model.Fields
	if days != "" {
		var err error
		if n, err = strconv.Atoi(days); err != nil || n < 1 || n > MaxUsageDays {
			fields.Add("days", fmt.Sprintf("must be a whole number from 1 to %d", MaxUsageDays))
		}
	}
	switch groupBy {
	case "":
		groupBy = model.UsageByModel
	case model.UsageByModel, model.UsageByUser, model.UsageByDay:
	default:
		fields.Add("group_by", "must be model, user or day")
	}
	if err := fields.Err(); err != nil {
		return 0, "", err
	}
	return n, groupBy, nil
}

// Usage reports the calls of the last days grouped by model, user or day.
func (s *Service) Usage(ctx context.Context, days int, groupBy string) (api.UsageReport, error) {
	rows, err := s.store.UsageReport(ctx, s.now().Add(-time.Duration(days)*24*time.Hour), groupBy)
	if err != nil {
		return api.UsageReport{}, fmt.Errorf("admin: usage report: %w", err)
	}
	out := api.UsageReport{Days: days, GroupBy: groupBy, Rows: make([]api.UsageRow, 0, len(rows))}
	for _, r := range rows {
		out.Rows = append(out.Rows, api.UsageRow{Key: r.Key, Requests: r.Requests, Errors: r.Errors,
			PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, Cost: r.Cost, AvgLatencyMS: r.AvgLatencyMS})
	}
	return out, nil
}
