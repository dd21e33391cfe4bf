package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// Budgets. A user's spend in a month is the cost of their usage records
// since the month began plus the reservations of their calls in flight.
// The DuckDB engine keeps both in its one process; here calls of one user
// run on any replica, so both are rows every replica reads: the spend is
// summed from ai_usage and budget_reservations on every check, in one
// statement (one snapshot: a usage record and the reservation it settles
// commit together, so the sum sees one or the other, never both or
// neither). Reservations of one user take turns under a transaction-scoped
// advisory lock of that user, so two calls on two replicas cannot both
// see room for one.

// budgetLock names the advisory lock a user's reservations take turns on.
func budgetLock(user uuid.UUID) string { return "budget:" + user.String() }

// monthSpend sums a user's month: the costs recorded in it and the live
// reservations held against it, as of one snapshot.
const monthSpend = `SELECT
    (SELECT coalesce(sum(cost), 0)::float8 FROM ai_usage WHERE user_id = $1 AND occurred_at >= $2 AND occurred_at < $3),
    (SELECT coalesce(sum(amount), 0)::float8 FROM budget_reservations WHERE user_id = $1 AND month = $2 AND expires_at > $4)`

func (s *Store) spendOf(ctx context.Context, q querier, user uuid.UUID, month time.Time) (model.Spend, error) {
	from := model.MonthStart(month)
	var sp model.Spend
	if err := q.QueryRow(ctx, monthSpend, user, from, from.AddDate(0, 1, 0), micro(s.now())).Scan(&sp.SpentUSD, &sp.ReservedUSD); err != nil {
		return model.Spend{}, fmt.Errorf("store: read the month's spend: %w", err)
	}
	return sp, nil
}

// ReserveSpend holds r.Amount of r.UserID's budget for r.Month unless the
// month's spend and reservations already reach limitUSD (then
// model.ErrOverBudget, with the spend as it stands). It returns the spend,
// the new reservation included when granted.
func (s *Store) ReserveSpend(ctx context.Context, r model.Reservation, limitUSD float64) (model.Spend, error) {
	r.Month = model.MonthStart(r.Month)
	var sp model.Spend
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.lockXact(budgetLock(r.UserID)); err != nil {
			return err
		}
		// Reservations of calls that never settled (their replica died)
		// go once they expire; the user's own lock covers the delete.
		if _, err := t.exec("DELETE FROM budget_reservations WHERE user_id = $1 AND expires_at <= $2", r.UserID, micro(s.now())); err != nil {
			return fmt.Errorf("store: drop expired reservations: %w", err)
		}
		var err error
		if sp, err = s.spendOf(t.ctx, t, r.UserID, r.Month); err != nil {
			return err
		}
		if sp.SpentUSD+sp.ReservedUSD >= limitUSD {
			return model.ErrOverBudget
		}
		if _, err := t.exec("INSERT INTO budget_reservations (id, user_id, amount, month, expires_at) VALUES ($1, $2, $3, $4, $5)",
			r.ID, r.UserID, r.Amount, r.Month, micro(r.ExpiresAt)); err != nil {
			return fmt.Errorf("store: reserve: %w", err)
		}
		sp.ReservedUSD += r.Amount
		return nil
	})
	return sp, err
}

// ReleaseSpend frees a reservation whose call left no usage record.
func (s *Store) ReleaseSpend(ctx context.Context, user, id uuid.UUID) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM budget_reservations WHERE id = $1 AND user_id = $2", id, user); err != nil {
		return fmt.Errorf("store: release reservation: %w", err)
	}
	return nil
}

// MonthSpend is a user's spend and reservations in the month of month.
func (s *Store) MonthSpend(ctx context.Context, user uuid.UUID, month time.Time) (model.Spend, error) {
	return s.spendOf(ctx, s.pool, user, month)
}

// UserBudget is the user's monthly budget override, or nil when the
// default applies. It reads the table: an override set on any replica
// applies to the next call everywhere.
func (s *Store) UserBudget(ctx context.Context, user uuid.UUID) (*float64, error) {
	var usd float64
	err := s.pool.QueryRow(ctx, "SELECT monthly_usd FROM user_budgets WHERE user_id = $1", user).Scan(&usd)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("store: user budget: %w", err)
	}
	return &usd, nil
}

// SetUserBudget sets (or, with nil, removes) a user's monthly budget
// override; model.ErrNotFound for an unknown user. The user's row is read
// FOR SHARE, so a deletion of the user cannot commit in between and leave
// an override behind.
func (s *Store) SetUserBudget(ctx context.Context, user uuid.UUID, monthlyUSD *float64, audit *model.Audit) error {
	return s.inTx(ctx, func(t *tx) error {
		var one int
		err := t.queryRow("SELECT 1 FROM users WHERE id = $1 FOR SHARE", user).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return model.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("store: load user: %w", err)
		}
		if monthlyUSD == nil {
			_, err = t.exec("DELETE FROM user_budgets WHERE user_id = $1", user)
		} else {
			_, err = t.exec(`INSERT INTO user_budgets (user_id, monthly_usd, updated_at) VALUES ($1, $2, $3)
				ON CONFLICT (user_id) DO UPDATE SET monthly_usd = excluded.monthly_usd, updated_at = excluded.updated_at`,
				user, *monthlyUSD, micro(s.now()))
		}
		if err != nil {
			return fmt.Errorf("store: set budget: %w", err)
		}
		return t.audit(audit)
	})
}

// UserUsage aggregates one user's calls in [from, to): by UTC day, oldest
// first, and by model, the most expensive first. Keys sort bytewise, as on
// DuckDB.
func (s *Store) UserUsage(ctx context.Context, user uuid.UUID, from, to time.Time) (model.UserUsage, error) {
	out := model.UserUsage{ByDay: []model.UsageRow{}, ByModel: []model.UsageRow{}}
	for _, g := range []struct {
		key, order string
		dst        *[]model.UsageRow
	}{
		{"to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')", "grp", &out.ByDay},
		{"model", "cost DESC, requests DESC, grp", &out.ByModel},
	} {
		rows, err := s.pool.Query(ctx, `SELECT (`+g.key+`) COLLATE "C" AS grp, count(*) AS requests,
				count(*) FILTER (WHERE status <> $1) AS errors,
				coalesce(sum(prompt_tokens), 0)::bigint, coalesce(sum(completion_tokens), 0)::bigint,
				coalesce(sum(cost), 0)::float8 AS cost, coalesce(avg(latency_ms), 0)::float8
			FROM ai_usage WHERE user_id = $2 AND occurred_at >= $3 AND occurred_at < $4 GROUP BY grp ORDER BY `+g.order,
			model.UsageStatusOK, user, from.UTC(), to.UTC())
		if err != nil {
			return model.UserUsage{}, fmt.Errorf("store: user usage: %w", err)
		}
		for rows.Next() {
			var r model.UsageRow
			if err := rows.Scan(&r.Key, &r.Requests, &r.Errors, &r.PromptTokens, &r.CompletionTokens, &r.Cost, &r.AvgLatencyMS); err != nil {
				rows.Close()
				return model.UserUsage{}, fmt.Errorf("store: scan user usage: %w", err)
			}
			*g.dst = append(*g.dst, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return model.UserUsage{}, fmt.Errorf("store: user usage: %w", err)
		}
	}
	return out, nil
}
