package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// usageColumns are the columns of ai_usage, in the order usageValues fills them.
var usageColumns = []string{"id", "occurred_at", "user_id", "kind", "model", "status", "latency_ms",
	"prompt_tokens", "completion_tokens", "cost", "generation_id", "error_kind"}

// InsertUsage appends records in one write: one appender inside a single
// transaction, so a batch of hundreds costs one commit and ~10 µs a row (a
// multi-row INSERT with bound parameters costs ~20 times more per row).
func (s *Store) InsertUsage(ctx context.Context, records []model.UsageRecord) error {
	if len(records) == 0 {
		return nil
	}
	rows := make([][]driver.Value, len(records))
	for i, r := range records {
		rows[i] = usageValues(r)
	}
	return s.write(ctx, func(t *Tx) error {
		if err := t.appendRows("ai_usage", usageColumns, rows); err != nil {
			return fmt.Errorf("store: insert %d usage records: %w", len(rows), err)
		}
		// The records' costs join their months' spend and their
		// reservations go in one step, once they are durable.
		t.AfterCommit(func() { s.spend.settle(records) })
		return nil
	})
}

// usageValues is one record as the appender takes it (UUIDs as 16 bytes,
// NULL for absent values).
func usageValues(r model.UsageRecord) []driver.Value {
	id := r.ID
	if id == uuid.Nil {
		id = uuid.Must(uuid.NewV7())
	}
	var cost, generation, errorKind driver.Value
	if r.Cost != nil {
		cost = *r.Cost
	}
	if r.GenerationID != "" {
		generation = r.GenerationID
	}
	if r.ErrorKind != "" {
		errorKind = r.ErrorKind
	}
	return []driver.Value{id[:], r.At.UTC().Truncate(time.Microsecond), r.UserID[:], r.Kind, r.Model, r.Status,
		r.LatencyMS, clampInt32(r.PromptTokens), clampInt32(r.CompletionTokens), cost, generation, errorKind}
}

// model.AIStats aggregates the calls since a time, busiest model first.
func (s *Store) AIStats(ctx context.Context, since time.Time) (model.AIStats, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT model, count(*) AS requests,
			coalesce(sum(prompt_tokens + completion_tokens), 0)::BIGINT AS tokens
		FROM ai_usage WHERE occurred_at >= ? GROUP BY model ORDER BY requests DESC, model`, since.UTC())
	if err != nil {
		return model.AIStats{}, fmt.Errorf("store: ai stats: %w", err)
	}
	defer rows.Close()
	out := model.AIStats{ByModel: []model.ModelUsage{}}
	for rows.Next() {
		var m model.ModelUsage
		if err := rows.Scan(&m.Model, &m.Requests, &m.Tokens); err != nil {
			return model.AIStats{}, fmt.Errorf("store: scan ai stats: %w", err)
		}
		out.Requests += m.Requests
		out.ByModel = append(out.ByModel, m)
	}
	return out, rows.Err()
}

// UsageReport aggregates the calls since a time by model, user or day (UTC),
// the most requested first (by day: the newest day first).
func (s *Store) UsageReport(ctx context.Context, since time.Time, groupBy string) ([]model.UsageRow, error) {
	var key, order string
	switch groupBy {
	case model.UsageByModel:
		key, order = "model", "requests DESC, grp"
	case model.UsageByUser:
		key, order = "user_id::VARCHAR", "requests DESC, grp"
	case model.UsageByDay:
		key, order = "strftime(occurred_at, '%Y-%m-%d')", "grp DESC"
	default:
		return nil, fmt.Errorf("store: usage report: unknown grouping %q", groupBy)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+key+` AS grp, count(*) AS requests,
			count(*) FILTER (WHERE status <> ?) AS errors,
			coalesce(sum(prompt_tokens), 0)::BIGINT, coalesce(sum(completion_tokens), 0)::BIGINT,
			coalesce(sum(cost), 0)::DOUBLE, coalesce(avg(latency_ms), 0)::DOUBLE
		FROM ai_usage WHERE occurred_at >= ? GROUP BY grp ORDER BY `+order, model.UsageStatusOK, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("store: usage report: %w", err)
	}
	defer rows.Close()
	out := []model.UsageRow{}
	for rows.Next() {
		var r model.UsageRow
		if err := rows.Scan(&r.Key, &r.Requests, &r.Errors, &r.PromptTokens, &r.CompletionTokens, &r.Cost, &r.AvgLatencyMS); err != nil {
			return nil, fmt.Errorf("store: scan usage report: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// setUsageCost fills in the cost of an earlier record once it is known (a
// video's cost arrives when the job completes).
func (t *Tx) setUsageCost(generationID string, cost float64) error {
	rows, err := t.conn.QueryContext(t.ctx, "UPDATE ai_usage SET cost = ? WHERE generation_id = ? AND cost IS NULL RETURNING user_id, occurred_at",
		cost, generationID)
	if err != nil {
		return fmt.Errorf("store: set usage cost: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var user uuid.UUID
		var at time.Time
		if err := rows.Scan(&user, &at); err != nil {
			return fmt.Errorf("store: set usage cost: %w", err)
		}
		t.AfterCommit(func() { t.s.spend.add(user, at, cost) })
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: set usage cost: %w", err)
	}
	return nil
}

// clampInt32 fits a token count into the INTEGER column.
func clampInt32(n int) int32 {
	return int32(min(max(n, math.MinInt32), math.MaxInt32)) //nolint:gosec // clamped on this line
}
