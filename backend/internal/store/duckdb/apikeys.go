package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// API keys are authenticated on every request that carries one, so every
// live key is mirrored in memory (keyCache) and a lookup reads no table.
// Like the other caches, only the writer changes it, after its commit: a
// revocation or a user's deletion stops the key at the very next request.

const keyColumns = "id, user_id, name, prefix, secret_hash, scopes, requests_per_minute, created_at, expires_at, revoked_at, last_used_at, coalesce(last_used_ip, '')"

type keyCache struct {
	mu     sync.RWMutex
	byHash map[string]model.APIKey
	byID   map[uuid.UUID]string // id → secret hash
}

func newKeyCache() *keyCache {
	return &keyCache{byHash: map[string]model.APIKey{}, byID: map[uuid.UUID]string{}}
}

func (c *keyCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byHash, c.byID = map[string]model.APIKey{}, map[uuid.UUID]string{}
}

func (c *keyCache) put(k model.APIKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byHash[k.Hash] = k
	c.byID[k.ID] = k.Hash
}

func (c *keyCache) get(hash string) (model.APIKey, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k, ok := c.byHash[hash]
	return k, ok
}

func (c *keyCache) drop(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hash, ok := c.byID[id]; ok {
		delete(c.byHash, hash)
		delete(c.byID, id)
	}
}

// dropUser forgets every key of user (its deletion).
func (c *keyCache) dropUser(user uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for hash, k := range c.byHash {
		if k.UserID == user {
			delete(c.byHash, hash)
			delete(c.byID, k.ID)
		}
	}
}

func (c *keyCache) used(u model.KeyUse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hash, ok := c.byID[u.KeyID]
	if !ok {
		return
	}
	k := c.byHash[hash]
	if k.LastUsedAt == nil || k.LastUsedAt.Before(u.At) {
		at := u.At
		k.LastUsedAt, k.LastUsedIP = &at, u.IP
		c.byHash[hash] = k
	}
}

func scanKey(r rowScanner) (model.APIKey, error) {
	var (
		k                     model.APIKey
		scopes                string
		rpm                   int32
		expires, revoked, use *time.Time
	)
	err := r.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Hash, &scopes, &rpm, &k.CreatedAt, &expires, &revoked, &use, &k.LastUsedIP)
	if errors.Is(err, sql.ErrNoRows) {
		return model.APIKey{}, model.ErrNotFound
	}
	if err != nil {
		return model.APIKey{}, err
	}
	k.Scopes = splitScopes(scopes)
	k.RequestsPerMinute = int(rpm)
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = utcPtr(expires), utcPtr(revoked), utcPtr(use)
	return k, nil
}

func splitScopes(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateAPIKey stores a new key of k.UserID: model.ErrNotFound when the user
// does not exist, model.ErrTooManyKeys when they hold
// model.MaxAPIKeysPerUser live keys already. audit is written with it.
func (s *Store) CreateAPIKey(ctx context.Context, k model.APIKey, audit *model.Audit) error {
	k.CreatedAt = k.CreatedAt.UTC().Truncate(time.Microsecond)
	return s.write(ctx, func(t *Tx) error {
		if _, err := scanUser(t.queryRow(t.st.userByID, k.UserID)); err != nil {
			return ruleOrFault(err, "load the key's user")
		}
		var live int
		if err := t.conn.QueryRowContext(t.ctx, "SELECT count(*) FROM api_keys WHERE user_id = ? AND revoked_at IS NULL",
			k.UserID).Scan(&live); err != nil {
			return fmt.Errorf("store: count API keys: %w", err)
		}
		if live >= model.MaxAPIKeysPerUser {
			return rule(model.ErrTooManyKeys)
		}
		if _, err := t.conn.ExecContext(t.ctx, `INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes,
			requests_per_minute, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.UserID, k.Name, k.Prefix, k.Hash, strings.Join(k.Scopes, ","), k.RequestsPerMinute, k.CreatedAt,
			timeArg(k.ExpiresAt)); err != nil {
			return fmt.Errorf("store: insert API key: %w", err)
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		t.AfterCommit(func() { s.keys.put(k) })
		return nil
	})
}

// APIKeyByHash finds the live (not revoked) key whose secret hashes to
// hash; model.ErrNotFound otherwise. It reads memory only.
func (s *Store) APIKeyByHash(_ context.Context, hash string) (model.APIKey, error) {
	if k, ok := s.keys.get(hash); ok {
		return k, nil
	}
	return model.APIKey{}, model.ErrNotFound
}

// APIKeys lists live keys, newest first: one user's, or everyone's when
// f.UserID is uuid.Nil; and how many match.
func (s *Store) APIKeys(ctx context.Context, f model.APIKeyFilter) ([]model.APIKey, int, error) {
	where, args := " WHERE revoked_at IS NULL", []any{}
	if f.UserID != uuid.Nil {
		where += " AND user_id = ?"
		args = append(args, f.UserID)
	}
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM api_keys"+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count API keys: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+keyColumns+" FROM api_keys"+where+" ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list API keys: %w", err)
	}
	defer rows.Close()
	out := []model.APIKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("store: scan API key: %w", err)
		}
		// The table's last use lags by one flush; memory knows better.
		if cached, ok := s.keys.get(k.Hash); ok && cached.LastUsedAt != nil {
			k.LastUsedAt, k.LastUsedIP = cached.LastUsedAt, cached.LastUsedIP
		}
		out = append(out, k)
	}
	return out, total, rows.Err()
}

// RevokeAPIKey revokes a live key. owner, when not uuid.Nil, must be the
// key's user (a user revoking their own key); model.ErrNotFound when the key
// is unknown, already revoked or someone else's. audit is written with it.
func (s *Store) RevokeAPIKey(ctx context.Context, id, owner uuid.UUID, audit *model.Audit) error {
	return s.write(ctx, func(t *Tx) error {
		k, err := scanKey(t.conn.QueryRowContext(t.ctx, "SELECT "+keyColumns+" FROM api_keys WHERE id = ?", id))
		if err != nil {
			return ruleOrFault(err, "load API key")
		}
		if k.RevokedAt != nil || (owner != uuid.Nil && owner != k.UserID) {
			return rule(model.ErrNotFound)
		}
		if _, err := t.conn.ExecContext(t.ctx, "UPDATE api_keys SET revoked_at = ? WHERE id = ?", s.now(), id); err != nil {
			return fmt.Errorf("store: revoke API key: %w", err)
		}
		if audit != nil && audit.TargetID == "" {
			audit.TargetID = k.UserID.String()
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		t.AfterCommit(func() { s.keys.drop(id) })
		return nil
	})
}

// RecordKeyUse stores the latest use of keys, in one write (callers batch
// them: a write per request would cost the writer a commit each). An older
// use than the one stored changes nothing.
func (s *Store) RecordKeyUse(ctx context.Context, uses []model.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	return s.write(ctx, func(t *Tx) error {
		for _, u := range uses {
			at := u.At.UTC().Truncate(time.Microsecond)
			if _, err := t.conn.ExecContext(t.ctx, `UPDATE api_keys SET last_used_at = ?, last_used_ip = ?
				WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, at, u.IP, u.KeyID, at); err != nil {
				return fmt.Errorf("store: record API key use: %w", err)
			}
			u.At = at
			t.AfterCommit(func() { s.keys.used(u) })
		}
		return nil
	})
}

// revokeUserKeys revokes every key of a user being deleted.
func (t *Tx) revokeUserKeys(user uuid.UUID) error {
	if _, err := t.conn.ExecContext(t.ctx, "UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
		t.s.now(), user); err != nil {
		return fmt.Errorf("store: revoke the user's API keys: %w", err)
	}
	if _, err := t.conn.ExecContext(t.ctx, "DELETE FROM user_budgets WHERE user_id = ?", user); err != nil {
		return fmt.Errorf("store: delete the user's budget: %w", err)
	}
	t.AfterCommit(func() {
		t.s.keys.dropUser(user)
		t.s.budgets.drop(user)
	})
	return nil
}

// loadKeys fills the key cache at start-up with every live key.
func (s *Store) loadKeys(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE revoked_at IS NULL")
	if err != nil {
		return fmt.Errorf("store: load API keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return fmt.Errorf("store: load API keys: %w", err)
		}
		s.keys.put(k)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: load API keys: %w", err)
	}
	brows, err := s.db.QueryContext(ctx, "SELECT user_id, monthly_usd FROM user_budgets")
	if err != nil {
		return fmt.Errorf("store: load budgets: %w", err)
	}
	defer brows.Close()
	for brows.Next() {
		var user uuid.UUID
		var usd float64
		if err := brows.Scan(&user, &usd); err != nil {
			return fmt.Errorf("store: load budgets: %w", err)
		}
		s.budgets.set(user, usd)
	}
	return brows.Err()
}
