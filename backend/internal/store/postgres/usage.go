package postgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// insertUsage appends a batch of records in one statement, column arrays
// unnested into rows. A record whose id is already stored is skipped: the
// recorder gives each record its id before the first attempt, so writing
// it again after an ambiguous failure cannot count it twice. The budget
// reservations the records settle ($13) go in the same statement, so a
// month's spend never counts a call twice (its cost and its estimate) nor
// not at all.
const insertUsage = `WITH settled AS (
    DELETE FROM budget_reservations WHERE id = ANY($13::uuid[])
)
INSERT INTO ai_usage (id, occurred_at, user_id, kind, model, status, latency_ms, prompt_tokens,
    completion_tokens, cost, generation_id, error_kind)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::float8[],
    $8::int4[], $9::int4[], $10::float8[], $11::text[], $12::text[])
ON CONFLICT (id) DO NOTHING`

// InsertUsage appends records and frees the reservations they settle, in
// one statement (one commit).
func (s *Store) InsertUsage(ctx context.Context, records []model.UsageRecord) error {
	if len(records) == 0 {
		return nil
	}
	n := len(records)
	var (
		ids, users          = make([]uuid.UUID, n), make([]uuid.UUID, n)
		at                  = make([]time.Time, n)
		kinds, models, stat = make([]string, n), make([]string, n), make([]string, n)
		latency             = make([]float64, n)
		prompt, completion  = make([]int32, n), make([]int32, n)
		cost                = make([]*float64, n)
		gen, errKind        = make([]*string, n), make([]*string, n)
		settles             []uuid.UUID
	)
	for i, r := range records {
		ids[i] = r.ID
		if ids[i] == uuid.Nil {
			ids[i] = uuid.Must(uuid.NewV7())
		}
		at[i], users[i], kinds[i], models[i], stat[i] = micro(r.At), r.UserID, clean(r.Kind), clean(r.Model), clean(r.Status)
		latency[i], prompt[i], completion[i] = r.LatencyMS, clampInt32(r.PromptTokens), clampInt32(r.CompletionTokens)
		cost[i], gen[i], errKind[i] = r.Cost, nullable(r.GenerationID), nullable(r.ErrorKind)
		if r.Reservation != uuid.Nil {
			settles = append(settles, r.Reservation)
		}
	}
	if settles == nil {
		settles = []uuid.UUID{}
	}
	if _, err := s.pool.Exec(ctx, insertUsage, ids, at, users, kinds, models, stat, latency, prompt, completion, cost, gen, errKind, settles); err != nil {
		return fmt.Errorf("store: insert %d usage records: %w", n, err)
	}
	return nil
}

// AIStats aggregates the calls since a time, busiest model first.
func (s *Store) AIStats(ctx context.Context, since time.Time) (model.AIStats, error) {
	rows, err := s.pool.Query(ctx, `SELECT model, count(*) AS requests,
			coalesce(sum(prompt_tokens + completion_tokens), 0)::bigint AS tokens
		FROM ai_usage WHERE occurred_at >= $1 GROUP BY model ORDER BY requests DESC, model COLLATE "C"`, since.UTC())
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
// the most requested first (by day: the newest day first). Keys sort
// bytewise (COLLATE "C"), as on DuckDB, whatever the database's locale.
func (s *Store) UsageReport(ctx context.Context, since time.Time, groupBy string) ([]model.UsageRow, error) {
	var key, order string
	switch groupBy {
	case model.UsageByModel:
		key, order = "model", "requests DESC, grp"
	case model.UsageByUser:
		key, order = "user_id::text", "requests DESC, grp"
	case model.UsageByDay:
		key, order = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')", "grp DESC"
	default:
		return nil, fmt.Errorf("store: usage report: unknown grouping %q", groupBy)
	}
	rows, err := s.pool.Query(ctx, `SELECT (`+key+`) COLLATE "C" AS grp, count(*) AS requests,
			count(*) FILTER (WHERE status <> $1) AS errors,
			coalesce(sum(prompt_tokens), 0)::bigint, coalesce(sum(completion_tokens), 0)::bigint,
			coalesce(sum(cost), 0)::float8, coalesce(avg(latency_ms), 0)::float8
		FROM ai_usage WHERE occurred_at >= $2 GROUP BY grp ORDER BY `+order, model.UsageStatusOK, since.UTC())
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

// clampInt32 fits a token count into the integer column.
func clampInt32(n int) int32 {
	return int32(min(max(n, math.MinInt32), math.MaxInt32)) //nolint:gosec // clamped on this line
}
