package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// API keys are authenticated on every request that carries one. The DuckDB
// engine mirrors every live key in its process; with several replicas each
// keeps a key for at most the cache's lifetime instead, and forgets it at
// once when any replica revokes it (or deletes its user): the revocation's
// transaction notifies every replica at commit, as sessions do. While the
// listening connection is down no key is served from memory.

const keyColumns = "id, user_id, name, prefix, secret_hash, scopes, requests_per_minute, created_at, expires_at, revoked_at, last_used_at, coalesce(last_used_ip, '')"

func keyNote(id uuid.UUID) string { return "k:" + id.String() }

func scanKey(r pgx.Row) (model.APIKey, error) {
	var (
		k   model.APIKey
		rpm int32
	)
	err := r.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Hash, &k.Scopes, &rpm, &k.CreatedAt, &k.ExpiresAt, &k.RevokedAt,
		&k.LastUsedAt, &k.LastUsedIP)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.APIKey{}, model.ErrNotFound
	}
	if err != nil {
		return model.APIKey{}, err
	}
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	k.RequestsPerMinute = int(rpm)
	k.CreatedAt = utc(k.CreatedAt)
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = utcPtr(k.ExpiresAt), utcPtr(k.RevokedAt), utcPtr(k.LastUsedAt)
	return k, nil
}

// CreateAPIKey stores a new key of k.UserID: model.ErrNotFound when the
// user does not exist, model.ErrTooManyKeys when they hold
// model.MaxAPIKeysPerUser live keys already. The user's row is locked while
// the keys are counted, so creations on any replicas take turns and the
// limit holds. audit is written with it.
func (s *Store) CreateAPIKey(ctx context.Context, k model.APIKey, audit *model.Audit) error {
	return s.inTx(ctx, func(t *tx) error {
		if _, err := t.lockUser(k.UserID); err != nil {
			return err
		}
		var live int
		if err := t.queryRow("SELECT count(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL", k.UserID).Scan(&live); err != nil {
			return fmt.Errorf("store: count API keys: %w", err)
		}
		if live >= model.MaxAPIKeysPerUser {
			return model.ErrTooManyKeys
		}
		if _, err := t.exec(`INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes, requests_per_minute, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, k.ID, k.UserID, clean(k.Name), clean(k.Prefix), clean(k.Hash),
			cleanAll(k.Scopes), clampInt32(k.RequestsPerMinute), micro(k.CreatedAt), timeArg(k.ExpiresAt)); err != nil {
			return fmt.Errorf("store: insert API key: %w", err)
		}
		return t.audit(audit)
	})
}

// APIKeyByHash finds the live (not revoked) key whose secret hashes to
// hash, from this replica's cache when fresh; model.ErrNotFound otherwise.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (model.APIKey, error) {
	k, ok, gen := s.cache.key(hash)
	if ok {
		return k, nil
	}
	k, err := scanKey(s.pool.QueryRow(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL", clean(hash)))
	if errors.Is(err, model.ErrNotFound) {
		return model.APIKey{}, err
	} else if err != nil {
		return model.APIKey{}, fmt.Errorf("store: API key by hash: %w", err)
	}
	s.cache.fillKey(k, gen)
	return k, nil
}

// APIKeys lists live keys, newest first: one user's, or everyone's when
// f.UserID is uuid.Nil; and how many match.
func (s *Store) APIKeys(ctx context.Context, f model.APIKeyFilter) ([]model.APIKey, int, error) {
	where, args := " WHERE revoked_at IS NULL", []any{}
	if f.UserID != uuid.Nil {
		args = append(args, f.UserID)
		where += " AND user_id = $1"
	}
	var total int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM api_keys"+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count API keys: %w", err)
	}
	rows, err := s.pool.Query(ctx, fmt.Sprintf("SELECT %s FROM api_keys%s ORDER BY created_at DESC, id DESC LIMIT $%d OFFSET $%d",
		keyColumns, where, len(args)+1, len(args)+2), append(args, f.Limit, f.Offset)...)
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
		out = append(out, k)
	}
	return out, total, rows.Err()
}

// RevokeAPIKey revokes a live key. owner, when not uuid.Nil, must be the
// key's user (a user revoking their own key); model.ErrNotFound when the
// key is unknown, already revoked or someone else's. Every replica forgets
// the key at commit. audit is written with it.
func (s *Store) RevokeAPIKey(ctx context.Context, id, owner uuid.UUID, audit *model.Audit) error {
	return s.inTx(ctx, func(t *tx) error {
		k, err := scanKey(t.queryRow("SELECT "+keyColumns+" FROM api_keys WHERE id = $1 FOR UPDATE", id))
		if errors.Is(err, model.ErrNotFound) {
			return err
		} else if err != nil {
			return fmt.Errorf("store: load API key: %w", err)
		}
		if k.RevokedAt != nil || (owner != uuid.Nil && owner != k.UserID) {
			return model.ErrNotFound
		}
		if _, err := t.exec("UPDATE api_keys SET revoked_at = $1 WHERE id = $2", micro(s.now()), id); err != nil {
			return fmt.Errorf("store: revoke API key: %w", err)
		}
		if audit != nil && audit.TargetID == "" {
			audit.TargetID = k.UserID.String()
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		return t.notify(keyNote(id))
	})
}

// recordKeyUses moves each key's last use forward, never back: replicas
// flush their batches independently, and a batch holding an older use of a
// key than the one stored (from another replica, or arriving late) changes
// nothing. The rows are locked in id order first, so two replicas' batches
// over the same keys queue instead of deadlocking.
const recordKeyUses = `UPDATE api_keys k SET last_used_at = u.at, last_used_ip = u.ip
FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS u(id, at, ip)
WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
RETURNING k.id, k.secret_hash, u.at, u.ip`

// RecordKeyUse stores the latest use of keys in one transaction (callers
// batch them). Uses of one key within the batch count by the latest; an
// older use than the one stored changes nothing; unknown keys are ignored.
func (s *Store) RecordKeyUse(ctx context.Context, uses []model.KeyUse) error {
	latest := map[uuid.UUID]model.KeyUse{}
	for _, u := range uses {
		u.At, u.IP = micro(u.At), clean(u.IP)
		if prev, ok := latest[u.KeyID]; !ok || prev.At.Before(u.At) {
			latest[u.KeyID] = u
		}
	}
	if len(latest) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	at, ips := make([]time.Time, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		at[i], ips[i] = latest[id].At, latest[id].IP
	}
	var used []usedKey
	err := s.inTx(ctx, func(t *tx) error {
		used = used[:0]
		if _, err := t.exec("SELECT 1 FROM api_keys WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids); err != nil {
			return fmt.Errorf("store: lock API keys: %w", err)
		}
		rows, err := t.Query(t.ctx, recordKeyUses, ids, at, ips)
		if err != nil {
			return fmt.Errorf("store: record API key use: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var u usedKey
			if err := rows.Scan(&u.use.KeyID, &u.hash, &u.use.At, &u.use.IP); err != nil {
				return fmt.Errorf("store: record API key use: %w", err)
			}
			u.use.At = utc(u.use.At)
			used = append(used, u)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: record API key use: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.cache.keyUsed(used)
	return nil
}
