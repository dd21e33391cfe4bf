package duckdb

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// Sign-in failures are counted in login_throttle and mirrored in memory,
// so checking a key (every sign-in checks three) reads no table. Only the
// writer changes the mirror, after its commit, as with the other caches.

type throttleRow struct {
	failures    int
	windowStart time.Time
	lockedUntil time.Time // zero when not locked
}

type throttleCache struct {
	mu   sync.RWMutex
	rows map[string]throttleRow
}

func (c *throttleCache) get(key string) (throttleRow, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.rows[key]
	return r, ok
}

func (c *throttleCache) set(key string, r throttleRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows[key] = r
}

func (c *throttleCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rows, key)
}

// LockedUntil reports until when each of keys is locked; keys that are not
// locked are absent from the answer.
func (s *Store) LockedUntil(_ context.Context, keys []string) (map[string]time.Time, error) {
	now := s.now()
	out := map[string]time.Time{}
	for _, k := range keys {
		if r, ok := s.throttle.get(k); ok && r.lockedUntil.After(now) {
			out[k] = r.lockedUntil
		}
	}
	return out, nil
}

// RecordFailures counts one failed sign-in against every rule's key, in one
// write, and returns the keys this failure locked, with the end of their
// lock. A failure outside a key's window starts a new window; a key that
// is locked stays locked until its lock ends (failures meanwhile count
// toward the next window).
func (s *Store) RecordFailures(ctx context.Context, rules []model.ThrottleRule) (map[string]time.Time, error) {
	lockedNow := map[string]time.Time{}
	err := s.write(ctx, func(t *Tx) error {
		clear(lockedNow)
		now := s.now().Truncate(time.Microsecond)
		for _, rule := range rules {
			r, _ := s.throttle.get(rule.Key)
			if pending, ok := t.throttle[rule.Key]; ok {
				r = pending
			}
			if r.failures == 0 || now.Sub(r.windowStart) > rule.Window {
				r.failures, r.windowStart = 0, now
			}
			r.failures++
			if r.failures >= rule.Limit && !r.lockedUntil.After(now) {
				r.lockedUntil = now.Add(rule.Lockout)
				r.failures, r.windowStart = 0, now
				lockedNow[rule.Key] = r.lockedUntil
			}
			if _, err := t.conn.ExecContext(t.ctx, `INSERT INTO login_throttle (key, failures, window_start, locked_until)
				VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
				window_start = excluded.window_start, locked_until = excluded.locked_until`,
				rule.Key, r.failures, r.windowStart, timeArg(nonZero(r.lockedUntil))); err != nil {
				return fmt.Errorf("store: count a failed sign-in: %w", err)
			}
			t.setThrottle(rule.Key, r)
		}
		return nil
	})
	return lockedNow, err
}

// ClearFailures forgets the failures of keys (after a successful sign-in);
// a key that is locked stays locked.
func (s *Store) ClearFailures(ctx context.Context, keys []string) error {
	var todo []string
	for _, k := range keys {
		if r, ok := s.throttle.get(k); ok && !r.lockedUntil.After(s.now()) {
			todo = append(todo, k)
		}
	}
	if len(todo) == 0 {
		return nil // the common case: nothing to forget, no write
	}
	return s.write(ctx, func(t *Tx) error {
		for _, k := range todo {
			if err := t.deleteThrottle(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Lockouts lists the keys locked now, the latest to end first.
func (s *Store) Lockouts(_ context.Context) ([]model.Lockout, error) {
	now := s.now()
	s.throttle.mu.RLock()
	var out []model.Lockout
	for k, r := range s.throttle.rows {
		if r.lockedUntil.After(now) {
			kind, email, ip := model.ParseThrottleKey(k)
			out = append(out, model.Lockout{Key: k, Kind: kind, Email: email, IP: ip, Failures: r.failures, LockedUntil: r.lockedUntil})
		}
	}
	s.throttle.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LockedUntil.Equal(out[j].LockedUntil) {
			return out[i].LockedUntil.After(out[j].LockedUntil)
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// LiftLockout ends the lock of key and forgets its failures; ErrNotFound
// when the key is not locked. audit is written in the same transaction.
func (s *Store) LiftLockout(ctx context.Context, key string, audit *model.Audit) error {
	if r, ok := s.throttle.get(key); !ok || !r.lockedUntil.After(s.now()) {
		return model.ErrNotFound
	}
	return s.write(ctx, func(t *Tx) error {
		if err := t.deleteThrottle(key); err != nil {
			return err
		}
		return t.audit(audit)
	})
}

// setThrottle records a key's new state for later writes of this batch and
// for the mirror, once committed.
func (t *Tx) setThrottle(key string, r throttleRow) {
	if t.throttle == nil {
		t.throttle = map[string]throttleRow{}
	}
	t.throttle[key] = r
	t.AfterCommit(func() { t.s.throttle.set(key, r) })
}

func (t *Tx) deleteThrottle(key string) error {
	if _, err := t.conn.ExecContext(t.ctx, "DELETE FROM login_throttle WHERE key = ?", key); err != nil {
		return fmt.Errorf("store: forget sign-in failures: %w", err)
	}
	if t.throttle == nil {
		t.throttle = map[string]throttleRow{}
	}
	t.throttle[key] = throttleRow{}
	t.AfterCommit(func() { t.s.throttle.drop(key) })
	return nil
}

// loadThrottle fills the mirror at start-up.
func (s *Store) loadThrottle(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "SELECT key, failures, window_start, locked_until FROM login_throttle")
	if err != nil {
		return fmt.Errorf("store: load sign-in failures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key string
			r   throttleRow
			lu  *time.Time
		)
		if err := rows.Scan(&key, &r.failures, &r.windowStart, &lu); err != nil {
			return fmt.Errorf("store: load sign-in failures: %w", err)
		}
		if lu != nil {
			r.lockedUntil = lu.UTC()
		}
		r.windowStart = r.windowStart.UTC()
		s.throttle.rows[key] = r
	}
	return rows.Err()
}

func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
