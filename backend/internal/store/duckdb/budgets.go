package duckdb

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// Budgets. A user's spend this month is the cost of their usage records
// since the month began, plus the reservations of their calls in flight.
// Every AI call checks it, so it is kept in memory: a month's spend is
// read from ai_usage once (inside the writer, so it is exact as of a
// commit), then every committed usage record adds its cost and frees the
// reservation it names, in the same after-commit step. Reservations live
// only in memory: the calls they belong to live in this process too.

type budgetCache struct {
	mu        sync.RWMutex
	overrides map[uuid.UUID]float64
}

func newBudgetCache() *budgetCache { return &budgetCache{overrides: map[uuid.UUID]float64{}} }

func (c *budgetCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.overrides = map[uuid.UUID]float64{}
}

func (c *budgetCache) set(user uuid.UUID, usd float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.overrides[user] = usd
}

func (c *budgetCache) drop(user uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.overrides, user)
}

func (c *budgetCache) get(user uuid.UUID) (float64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.overrides[user]
	return v, ok
}

type spendKey struct {
	user  uuid.UUID
	month int64 // Unix seconds of the month's first instant
}

func keyOf(user uuid.UUID, at time.Time) spendKey {
	return spendKey{user: user, month: model.MonthStart(at).Unix()}
}

// maxSpendEntries bounds the months kept in memory; a miss costs one
// query through the writer.
const maxSpendEntries = 100_000

type spendCache struct {
	mu       sync.Mutex
	spent    map[spendKey]float64
	reserved map[uuid.UUID]map[uuid.UUID]model.Reservation // user → id → reservation
}

func newSpendCache() *spendCache {
	return &spendCache{spent: map[spendKey]float64{}, reserved: map[uuid.UUID]map[uuid.UUID]model.Reservation{}}
}

func (c *spendCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spent, c.reserved = map[spendKey]float64{}, map[uuid.UUID]map[uuid.UUID]model.Reservation{}
}

func (c *spendCache) has(k spendKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.spent[k]
	return ok
}

// install records a month's spend as read from the table, unless an
// earlier reader already did (its value has been kept current since).
func (c *spendCache) install(k spendKey, v float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.spent[k]; ok {
		return
	}
	if len(c.spent) >= maxSpendEntries {
		clear(c.spent)
	}
	c.spent[k] = v
}

// reservedLocked sums the user's live reservations of month k, forgetting
// expired ones.
func (c *spendCache) reservedLocked(k spendKey, now time.Time) float64 {
	sum := 0.0
	for id, r := range c.reserved[k.user] {
		switch {
		case !now.Before(r.ExpiresAt):
			delete(c.reserved[k.user], id)
		case r.Month.Unix() == k.month:
			sum += r.Amount
		}
	}
	return sum
}

func (c *spendCache) reserve(k spendKey, r model.Reservation, limit float64, now time.Time) (model.Spend, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sp := model.Spend{SpentUSD: c.spent[k], ReservedUSD: c.reservedLocked(k, now)}
	if sp.SpentUSD+sp.ReservedUSD >= limit {
		return sp, model.ErrOverBudget
	}
	if c.reserved[r.UserID] == nil {
		c.reserved[r.UserID] = map[uuid.UUID]model.Reservation{}
	}
	c.reserved[r.UserID][r.ID] = r
	sp.ReservedUSD += r.Amount
	return sp, nil
}

func (c *spendCache) spend(k spendKey, now time.Time) model.Spend {
	c.mu.Lock()
	defer c.mu.Unlock()
	return model.Spend{SpentUSD: c.spent[k], ReservedUSD: c.reservedLocked(k, now)}
}

func (c *spendCache) releaseLocked(user, id uuid.UUID) {
	if m := c.reserved[user]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(c.reserved, user)
		}
	}
}

func (c *spendCache) release(user, id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked(user, id)
}

// settle applies committed usage records: their cost joins their month's
// spend and their reservations go, together.
func (c *spendCache) settle(records []model.UsageRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range records {
		if k := keyOf(r.UserID, r.At); r.Cost != nil {
			if v, ok := c.spent[k]; ok {
				c.spent[k] = v + *r.Cost
			}
		}
		if r.Reservation != uuid.Nil {
			c.releaseLocked(r.UserID, r.Reservation)
		}
	}
}

// add counts a cost that arrived later (a video's, when its job completed).
func (c *spendCache) add(user uuid.UUID, at time.Time, cost float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.spent[keyOf(user, at)]; ok {
		c.spent[keyOf(user, at)] = v + cost
	}
}

// ensureSpend makes sure the month of k is in memory. The table is read
// inside the writer: what it sums is exactly what has committed, and every
// later commit's after-commit step runs after this one's install.
func (s *Store) ensureSpend(ctx context.Context, k spendKey) error {
	if s.spend.has(k) {
		return nil
	}
	from := time.Unix(k.month, 0).UTC()
	to := from.AddDate(0, 1, 0)
	return s.write(ctx, func(t *Tx) error {
		var v float64
		if err := t.conn.QueryRowContext(t.ctx, `SELECT coalesce(sum(cost), 0)::DOUBLE FROM ai_usage
			WHERE user_id = ? AND occurred_at >= ? AND occurred_at < ?`, k.user, from, to).Scan(&v); err != nil {
			return fmt.Errorf("store: read the month's spend: %w", err)
		}
		t.AfterCommit(func() { s.spend.install(k, v) })
		return nil
	})
}

// ReserveSpend holds r.Amount of r.UserID's budget for r.Month unless the
// month's spend and reservations already reach limitUSD (then
// model.ErrOverBudget). It returns the spend as it stands, the new
// reservation included when granted.
func (s *Store) ReserveSpend(ctx context.Context, r model.Reservation, limitUSD float64) (model.Spend, error) {
	k := keyOf(r.UserID, r.Month)
	r.Month = model.MonthStart(r.Month)
	if err := s.ensureSpend(ctx, k); err != nil {
		return model.Spend{}, err
	}
	return s.spend.reserve(k, r, limitUSD, s.now())
}

// ReleaseSpend frees a reservation whose call left no usage record.
func (s *Store) ReleaseSpend(_ context.Context, user, id uuid.UUID) error {
	s.spend.release(user, id)
	return nil
}

// MonthSpend is a user's spend and reservations in the month of month.
func (s *Store) MonthSpend(ctx context.Context, user uuid.UUID, month time.Time) (model.Spend, error) {
	k := keyOf(user, month)
	if err := s.ensureSpend(ctx, k); err != nil {
		return model.Spend{}, err
	}
	return s.spend.spend(k, s.now()), nil
}

// UserBudget is the user's monthly budget override, or nil when the
// default applies. It reads memory only.
func (s *Store) UserBudget(_ context.Context, user uuid.UUID) (*float64, error) {
	if v, ok := s.budgets.get(user); ok {
		return &v, nil
	}
	return nil, nil
}

// SetUserBudget sets (or, with nil, removes) a user's monthly budget
// override; model.ErrNotFound for an unknown user.
func (s *Store) SetUserBudget(ctx context.Context, user uuid.UUID, monthlyUSD *float64, audit *model.Audit) error {
	return s.write(ctx, func(t *Tx) error {
		if _, err := scanUser(t.queryRow(t.st.userByID, user)); err != nil {
			return ruleOrFault(err, "load user")
		}
		var err error
		if monthlyUSD == nil {
			_, err = t.conn.ExecContext(t.ctx, "DELETE FROM user_budgets WHERE user_id = ?", user)
		} else {
			_, err = t.conn.ExecContext(t.ctx, `INSERT INTO user_budgets (user_id, monthly_usd, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (user_id) DO UPDATE SET monthly_usd = excluded.monthly_usd, updated_at = excluded.updated_at`,
				user, *monthlyUSD, s.now())
		}
		if err != nil {
			return fmt.Errorf("store: set budget: %w", err)
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		t.AfterCommit(func() {
			if monthlyUSD == nil {
				s.budgets.drop(user)
			} else {
				s.budgets.set(user, *monthlyUSD)
			}
		})
		return nil
	})
}

// UserUsage aggregates one user's calls in [from, to): by UTC day, oldest
// first, and by model, the most expensive first.
func (s *Store) UserUsage(ctx context.Context, user uuid.UUID, from, to time.Time) (model.UserUsage, error) {
	out := model.UserUsage{ByDay: []model.UsageRow{}, ByModel: []model.UsageRow{}}
	for _, g := range []struct {
		key, order string
		dst        *[]model.UsageRow
	}{
		{"strftime(occurred_at, '%Y-%m-%d')", "grp", &out.ByDay},
		{"model", "cost DESC, requests DESC, grp", &out.ByModel},
	} {
		rows, err := s.db.QueryContext(ctx, `SELECT `+g.key+` AS grp, count(*) AS requests,
				count(*) FILTER (WHERE status <> ?) AS errors,
				coalesce(sum(prompt_tokens), 0)::BIGINT, coalesce(sum(completion_tokens), 0)::BIGINT,
				coalesce(sum(cost), 0)::DOUBLE AS cost, coalesce(avg(latency_ms), 0)::DOUBLE
			FROM ai_usage WHERE user_id = ? AND occurred_at >= ? AND occurred_at < ? GROUP BY grp ORDER BY `+g.order,
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
		err = rows.Err()
		rows.Close()
		if err != nil {
			return model.UserUsage{}, fmt.Errorf("store: user usage: %w", err)
		}
	}
	return out, nil
}
