package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// Sign-in failures are counted in login_throttle, which every replica
// shares; nothing of it is cached (a sign-in spends tens of milliseconds
// hashing, a query of three keys is noise beside it).

// LockedUntil reports until when each of keys is locked; keys that are not
// locked are absent from the answer.
func (s *Store) LockedUntil(ctx context.Context, keys []string) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, "SELECT key, locked_until FROM login_throttle WHERE key = ANY($1) AND locked_until > $2",
		cleanAll(keys), micro(s.now()))
	if err != nil {
		return nil, fmt.Errorf("store: read sign-in locks: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var key string
		var until time.Time
		if err := rows.Scan(&key, &until); err != nil {
			return nil, fmt.Errorf("store: read sign-in locks: %w", err)
		}
		out[key] = until.UTC()
	}
	return out, rows.Err()
}

// RecordFailures counts one failed sign-in against every rule's key, in one
// transaction, and returns the keys this failure locked, with the end of
// their lock. The keys' rows are locked (in key order, so two concurrent
// failures never wait on each other in a cycle) before they are read: every
// failure counts once and a lock is reported once, whichever replica saw it.
func (s *Store) RecordFailures(ctx context.Context, rules []model.ThrottleRule) (map[string]time.Time, error) {
	lockedNow := map[string]time.Time{}
	keys := make([]string, 0, len(rules))
	for _, r := range rules {
		keys = append(keys, clean(r.Key))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	err := s.inTx(ctx, func(t *tx) error {
		clear(lockedNow)
		now := micro(s.now())
		if _, err := t.exec(`INSERT INTO login_throttle (key, failures, window_start)
			SELECT k, 0, $2 FROM unnest($1::text[]) AS k ORDER BY k ON CONFLICT (key) DO NOTHING`, keys, now); err != nil {
			return fmt.Errorf("store: count a failed sign-in: %w", err)
		}
		rows, err := t.Query(t.ctx, `SELECT key, failures, window_start, locked_until FROM login_throttle
			WHERE key = ANY($1) ORDER BY key FOR UPDATE`, keys)
		if err != nil {
			return fmt.Errorf("store: count a failed sign-in: %w", err)
		}
		state := map[string]throttleRow{}
		for rows.Next() {
			var key string
			var r throttleRow
			var until *time.Time
			if err := rows.Scan(&key, &r.failures, &r.windowStart, &until); err != nil {
				rows.Close()
				return fmt.Errorf("store: count a failed sign-in: %w", err)
			}
			r.windowStart, r.lockedUntil = r.windowStart.UTC(), timeOrZero(until)
			state[key] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: count a failed sign-in: %w", err)
		}
		for _, rule := range rules {
			key := clean(rule.Key)
			r := state[key]
			if r.failures == 0 || now.Sub(r.windowStart) > rule.Window {
				r.failures, r.windowStart = 0, now
			}
			r.failures++
			if r.failures >= rule.Limit && !r.lockedUntil.After(now) {
				r.lockedUntil = now.Add(rule.Lockout)
				r.failures, r.windowStart = 0, now
				lockedNow[rule.Key] = r.lockedUntil
			}
			state[key] = r
			if _, err := t.exec("UPDATE login_throttle SET failures = $1, window_start = $2, locked_until = $3 WHERE key = $4",
				r.failures, r.windowStart, nonZero(r.lockedUntil), key); err != nil {
				return fmt.Errorf("store: count a failed sign-in: %w", err)
			}
		}
		return nil
	})
	return lockedNow, err
}

type throttleRow struct {
	failures    int
	windowStart time.Time
	lockedUntil time.Time // zero when not locked
}

func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ClearFailures forgets the failures of keys (after a successful sign-in);
// a key that is locked stays locked. Nothing to forget writes nothing.
func (s *Store) ClearFailures(ctx context.Context, keys []string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM login_throttle WHERE key = ANY($1) AND (locked_until IS NULL OR locked_until <= $2)",
		cleanAll(keys), micro(s.now())); err != nil {
		return fmt.Errorf("store: forget sign-in failures: %w", err)
	}
	return nil
}

// Lockouts lists the keys locked now, the latest to end first.
func (s *Store) Lockouts(ctx context.Context) ([]model.Lockout, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, failures, locked_until FROM login_throttle WHERE locked_until > $1
		ORDER BY locked_until DESC, key COLLATE "C"`, micro(s.now()))
	if err != nil {
		return nil, fmt.Errorf("store: list lock-outs: %w", err)
	}
	defer rows.Close()
	var out []model.Lockout
	for rows.Next() {
		var l model.Lockout
		if err := rows.Scan(&l.Key, &l.Failures, &l.LockedUntil); err != nil {
			return nil, fmt.Errorf("store: list lock-outs: %w", err)
		}
		l.LockedUntil = l.LockedUntil.UTC()
		l.Kind, l.Email, l.IP = model.ParseThrottleKey(l.Key)
		out = append(out, l)
	}
	return out, rows.Err()
}

// LiftLockout ends the lock of key and forgets its failures; ErrNotFound
// when the key is not locked. audit is written in the same transaction.
func (s *Store) LiftLockout(ctx context.Context, key string, audit *model.Audit) error {
	return s.inTx(ctx, func(t *tx) error {
		var k string
		err := t.queryRow("DELETE FROM login_throttle WHERE key = $1 AND locked_until > $2 RETURNING key", clean(key), micro(s.now())).Scan(&k)
		if errors.Is(err, pgx.ErrNoRows) {
			return model.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("store: lift lock-out: %w", err)
		}
		return t.audit(audit)
	})
}
