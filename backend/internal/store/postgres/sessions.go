package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Refresh-token states as stored ("rotated" = has a successor; "expired" =
// past expires_at), as in the DuckDB engine.
const (
	tokenActive  = "active"
	tokenRevoked = "revoked"
)

func sessionNote(family uuid.UUID) string { return "s:" + family.String() }

func userSessionsNote(user, keep uuid.UUID) string { return "x:" + user.String() + ":" + keep.String() }

// createSession is a sign-in in one statement: the session row and its first
// token are written only if the user row is still the one the sign-in
// verified (same updated_at), read FOR SHARE so that a password change
// cannot commit between the check and the insert. It answers the user's
// email (for the sign-in's audit entry), or no row when the account changed.
const createSession = `
WITH u AS (
    SELECT id, email FROM users WHERE id = $1 AND updated_at = $2 FOR SHARE
), s AS (
    INSERT INTO sessions (family_id, user_id, born, token_id, token_hash, last_used, expires_at, user_agent, ip, short)
    SELECT $3, id, $4, $5, $6, $4, $7, $8, $9, $10 FROM u
    RETURNING family_id
), t AS (
    INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, parent_id, status, created_at, expires_at, family_created_at,
        user_agent, ip, short_session)
    SELECT $5, $6, family_id, $1, NULL, 'active', $4, $7, $4, $8, $9, $10 FROM s
    RETURNING id
)
SELECT u.email FROM u, t`

// CreateSession stores the first refresh token of a new session, and the
// sign-in's audit entry when given, and returns the session id;
// model.ErrAccountChanged when the account changed since the sign-in
// verified it (or is gone).
func (s *Store) CreateSession(ctx context.Context, ns model.NewSession) (uuid.UUID, error) {
	family, id := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	err := s.inTx(ctx, func(t *tx) error {
		var email string
		err := t.queryRow(createSession, ns.UserID, micro(ns.UserUpdatedAt), family, micro(s.now()), id, ns.TokenHash,
			micro(ns.ExpiresAt), clean(ns.UserAgent), clean(ns.IP), ns.Short).Scan(&email)
		if errors.Is(err, pgx.ErrNoRows) {
			return model.ErrAccountChanged
		} else if err != nil {
			return fmt.Errorf("store: insert session: %w", err)
		}
		if ns.Audit != nil && ns.Audit.TargetEmail == "" {
			ns.Audit.TargetEmail = email
		}
		return t.audit(ns.Audit)
	})
	if err != nil {
		return uuid.Nil, err
	}
	return family, nil
}

// rotateCurrent is the common refresh in one statement: if the presented
// token is a live session's current one, the session moves to the
// successor (the presented token becomes its parent) and the successor is
// appended. Concurrent rotations of one token, on any replica, queue on
// the session's row lock; after the first commits, the others' WHERE no
// longer matches (READ COMMITTED re-checks the updated row) and they take
// the slow path, where a rotated token is a retry or a reuse.
//
// A short session (signed in without "keep me signed in") takes the short
// expiry ($8) instead of the long one ($5).
const rotateCurrent = `
WITH cur AS (
    UPDATE sessions SET token_id = $1, token_hash = $2, parent_id = token_id, parent_hash = token_hash,
        rotated_at = $4, last_used = $4, expires_at = CASE WHEN short THEN $8::timestamptz ELSE $5::timestamptz END, user_agent = $6, ip = $7
    WHERE token_hash = $3 AND expires_at > $4
    RETURNING family_id, user_id, born, parent_id, expires_at, short
)
INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, parent_id, status, created_at, expires_at, family_created_at,
    user_agent, ip, short_session)
SELECT $1, $2, family_id, user_id, parent_id, 'active', $4, expires_at, born, $6, $7, short FROM cur
RETURNING family_id, user_id, family_created_at, expires_at, short_session`

// Rotate performs one refresh atomically: the presented token must be the
// current token of a live session; its successor becomes current. The
// direct parent of the current token, presented again within RetryGrace of
// its first rotation, rotates again (the unused successor is revoked). Any
// other rotated token presented again revokes its whole family (RFC 9700
// 4.14) and yields model.ErrTokenReused; anything else unusable yields
// model.ErrTokenInvalid.
func (s *Store) Rotate(ctx context.Context, r model.Rotation) (model.Session, error) {
	now := micro(s.now())
	id := uuid.Must(uuid.NewV7())
	r.UserAgent, r.IP = clean(r.UserAgent), clean(r.IP)
	out := model.Session{LastUsedAt: now, ExpiresAt: micro(r.ExpiresAt), UserAgent: r.UserAgent, IP: r.IP}
	shortExpires := out.ExpiresAt
	if !r.ShortExpiresAt.IsZero() {
		shortExpires = micro(r.ShortExpiresAt)
	}
	err := s.pool.QueryRow(ctx, rotateCurrent, id, r.NewHash, r.OldHash, now, out.ExpiresAt, r.UserAgent, r.IP, shortExpires).
		Scan(&out.ID, &out.UserID, &out.CreatedAt, &out.ExpiresAt, &out.Short)
	if err == nil {
		out.CreatedAt, out.ExpiresAt = utc(out.CreatedAt), utc(out.ExpiresAt)
		return out, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return model.Session{}, fmt.Errorf("store: rotate: %w", err)
	}
	err = s.inTx(ctx, func(t *tx) error {
		retried, err := t.retryRotation(r, id, now, shortExpires, &out)
		if err != nil || retried {
			return err
		}
		return t.staleToken(r, now)
	})
	if err != nil {
		return model.Session{}, err
	}
	return out, nil
}

// retryRotation handles the current token's parent presented again: within
// the grace (counted from the parent's first rotation, so retries do not
// extend it) the unused current token is revoked and a new successor of the
// parent issued. The session row stays locked until commit, so concurrent
// retries take turns and exactly one of their tokens ends up current.
func (t *tx) retryRotation(r model.Rotation, id uuid.UUID, now, shortExpires time.Time, out *model.Session) (bool, error) {
	var (
		family, user, current uuid.UUID
		parent                *uuid.UUID
		born, expiresAt       time.Time
		rotatedAt             *time.Time
		short                 bool
	)
	err := t.queryRow(`SELECT family_id, user_id, born, token_id, parent_id, rotated_at, expires_at, short
		FROM sessions WHERE parent_hash = $1 FOR UPDATE`, r.OldHash).
		Scan(&family, &user, &born, &current, &parent, &rotatedAt, &expiresAt, &short)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("store: find a retried rotation: %w", err)
	}
	if r.RetryGrace <= 0 || rotatedAt == nil || !now.Before(expiresAt) || now.Sub(*rotatedAt) > r.RetryGrace {
		return false, nil // not a retry: reuse or invalid, decided from the token
	}
	if _, err := t.exec("UPDATE refresh_tokens SET status = 'revoked', revoked_at = coalesce(revoked_at, $1) WHERE id = $2", now, current); err != nil {
		return false, fmt.Errorf("store: revoke the unused successor: %w", err)
	}
	if short {
		out.ExpiresAt = shortExpires
	}
	out.Short = short
	if _, err := t.exec(`UPDATE sessions SET token_id = $1, token_hash = $2, last_used = $3, expires_at = $4, user_agent = $5, ip = $6
		WHERE family_id = $7`, id, r.NewHash, now, out.ExpiresAt, r.UserAgent, r.IP, family); err != nil {
		return false, fmt.Errorf("store: retry rotation: %w", err)
	}
	if _, err := t.exec(`INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, parent_id, status, created_at, expires_at,
		family_created_at, user_agent, ip, short_session) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10, $11)`,
		id, r.NewHash, family, user, parent, now, out.ExpiresAt, born, r.UserAgent, r.IP, short); err != nil {
		return false, fmt.Errorf("store: insert successor token: %w", err)
	}
	err = t.audit(&model.Audit{Action: api.AuditRefreshRetried, ActorID: user.String(), TargetID: family.String(),
		Detail: fmt.Sprintf("refresh retried: the previous token came back %s after its rotation; its unused successor was revoked",
			now.Sub(*rotatedAt).Round(time.Millisecond)), RequestID: r.RequestID})
	if err != nil {
		return false, err
	}
	out.ID, out.UserID, out.CreatedAt = family, user, utc(born)
	return true, nil
}

// staleToken decides about a presented token that is no live session's
// current token: unknown, revoked and expired tokens (and tokens of ended
// sessions) are invalid; a rotated one is reuse, and its family is revoked.
func (t *tx) staleToken(r model.Rotation, now time.Time) error {
	var (
		id, family, user uuid.UUID
		status           string
		expiresAt        time.Time
	)
	err := t.queryRow("SELECT id, family_id, user_id, status, expires_at FROM refresh_tokens WHERE token_hash = $1", r.OldHash).
		Scan(&id, &family, &user, &status, &expiresAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return model.ErrTokenInvalid
	case err != nil:
		return fmt.Errorf("store: find refresh token: %w", err)
	case status != tokenActive || !now.Before(expiresAt):
		return model.ErrTokenInvalid
	}
	var live, rotated bool
	if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM sessions WHERE family_id = $1),
		EXISTS (SELECT 1 FROM refresh_tokens WHERE parent_id = $2)`, family, id).Scan(&live, &rotated); err != nil {
		return fmt.Errorf("store: find successor: %w", err)
	}
	if !live {
		return model.ErrTokenInvalid
	}
	if !rotated {
		// Active, of a live session, yet not its current token: the session
		// row and the tokens disagree. Refuse rather than guess.
		t.s.log.Error("refresh token is active but not the current token of its live session", "family", family)
		return model.ErrTokenInvalid
	}
	if err := t.revokeFamily(family); err != nil {
		return err
	}
	err = t.audit(&model.Audit{Action: api.AuditFamilyRevoked, ActorID: user.String(), TargetID: family.String(),
		Detail: "a rotated refresh token was presented again; the session was revoked", RequestID: r.RequestID})
	if err != nil {
		return err
	}
	return rule(model.ErrTokenReused)
}

// revokeFamily ends a session: its tokens are revoked, its row goes, and
// every replica forgets it.
func (t *tx) revokeFamily(family uuid.UUID) error {
	if _, err := t.exec(`UPDATE refresh_tokens SET status = 'revoked', revoked_at = coalesce(revoked_at, $1)
		WHERE family_id = $2 AND status <> 'revoked'`, micro(t.s.now()), family); err != nil {
		return fmt.Errorf("store: revoke session: %w", err)
	}
	if _, err := t.exec("DELETE FROM sessions WHERE family_id = $1", family); err != nil {
		return fmt.Errorf("store: end session: %w", err)
	}
	return t.notify(sessionNote(family))
}

// revokeUser ends every session of user but keep (uuid.Nil keeps none).
func (t *tx) revokeUser(user, keep uuid.UUID) error {
	if _, err := t.exec(`UPDATE refresh_tokens SET status = 'revoked', revoked_at = coalesce(revoked_at, $1)
		WHERE user_id = $2 AND family_id <> $3 AND status <> 'revoked'`, micro(t.s.now()), user, keep); err != nil {
		return fmt.Errorf("store: revoke sessions of user: %w", err)
	}
	if _, err := t.exec("DELETE FROM sessions WHERE user_id = $1 AND family_id <> $2", user, keep); err != nil {
		return fmt.Errorf("store: end sessions of user: %w", err)
	}
	return t.notify(userSessionsNote(user, keep))
}

// RevokeByToken ends the session of the refresh token with this hash
// (logout), whichever of its tokens it is. An unknown hash is not an error.
func (s *Store) RevokeByToken(ctx context.Context, hash string) error {
	return s.inTx(ctx, func(t *tx) error {
		var family uuid.UUID
		err := t.queryRow("SELECT family_id FROM refresh_tokens WHERE token_hash = $1", clean(hash)).Scan(&family)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("store: find refresh token: %w", err)
		}
		return t.revokeFamily(family)
	})
}

// RevokeSession ends one session of user; model.ErrNotFound if it is not
// one of the user's live sessions.
func (s *Store) RevokeSession(ctx context.Context, user, family uuid.UUID) error {
	return s.inTx(ctx, func(t *tx) error {
		tag, err := t.exec("DELETE FROM sessions WHERE family_id = $1 AND user_id = $2 AND expires_at > $3", family, user, micro(s.now()))
		if err != nil {
			return fmt.Errorf("store: end session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return model.ErrNotFound
		}
		return t.revokeFamily(family)
	})
}

// RevokeOtherSessions ends every session of user but keep.
func (s *Store) RevokeOtherSessions(ctx context.Context, user, keep uuid.UUID) error {
	return s.inTx(ctx, func(t *tx) error { return t.revokeUser(user, keep) })
}

// SessionActive reports whether session family is live, and whose it is:
// from this replica's cache when fresh, else from the sessions table.
func (s *Store) SessionActive(ctx context.Context, family uuid.UUID) (owner uuid.UUID, live bool, err error) {
	now := s.now()
	e, ok, gen := s.cache.session(family)
	if ok {
		return e.owner, now.Before(e.expiresAt), nil
	}
	var expiresAt time.Time
	err = s.pool.QueryRow(ctx, "SELECT user_id, expires_at FROM sessions WHERE family_id = $1", family).Scan(&owner, &expiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, false, nil
	} else if err != nil {
		return uuid.Nil, false, fmt.Errorf("store: session state: %w", err)
	}
	s.cache.fillSession(family, owner, expiresAt, gen)
	if !now.Before(expiresAt) {
		return uuid.Nil, false, nil
	}
	return owner, true, nil
}

// Sessions lists the user's live sessions, most recently used first.
func (s *Store) Sessions(ctx context.Context, user uuid.UUID) ([]model.Session, error) {
	rows, err := s.pool.Query(ctx, `SELECT family_id, born, last_used, expires_at, user_agent, ip, short FROM sessions
		WHERE user_id = $1 AND expires_at > $2 ORDER BY last_used DESC, family_id`, user, micro(s.now()))
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	defer rows.Close()
	out := []model.Session{}
	for rows.Next() {
		se := model.Session{UserID: user}
		if err := rows.Scan(&se.ID, &se.CreatedAt, &se.LastUsedAt, &se.ExpiresAt, &se.UserAgent, &se.IP, &se.Short); err != nil {
			return nil, fmt.Errorf("store: list sessions: %w", err)
		}
		se.CreatedAt, se.LastUsedAt, se.ExpiresAt = utc(se.CreatedAt), utc(se.LastUsedAt), utc(se.ExpiresAt)
		out = append(out, se)
	}
	return out, rows.Err()
}

// TokenCounts counts refresh tokens per state (active, rotated, revoked,
// expired).
func (s *Store) TokenCounts(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, "tokens", `SELECT CASE
			WHEN t.status = 'revoked' THEN 'revoked'
			WHEN t.expires_at <= $1 THEN 'expired'
			WHEN EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_id = t.id) THEN 'rotated'
			ELSE 'active' END AS state, count(*)
		FROM refresh_tokens t GROUP BY state`, micro(s.now()))
}

// purgeBatch bounds one purge transaction, so other writers never wait long
// on its locks.
const purgeBatch = 1000

// PurgeTokens deletes revoked and expired refresh tokens (and the rows of
// expired sessions and budget reservations) in batches and records one
// audit entry. It returns how many tokens went.
func (s *Store) PurgeTokens(ctx context.Context, audit *model.Audit) (int, error) {
	now := micro(s.now())
	total := 0
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM refresh_tokens WHERE id IN (
			SELECT id FROM refresh_tokens WHERE status = $1 OR expires_at <= $2 LIMIT $3)`, tokenRevoked, now, purgeBatch)
		if err != nil {
			return total, fmt.Errorf("store: purge tokens: %w", err)
		}
		total += int(tag.RowsAffected())
		if tag.RowsAffected() < purgeBatch {
			break
		}
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE expires_at <= $1", now); err != nil {
		return total, fmt.Errorf("store: purge expired sessions: %w", err)
	}
	// Reservations of calls whose replica died before settling them no
	// longer count once expired; a user who never calls again would keep
	// them as rows forever otherwise.
	if _, err := s.pool.Exec(ctx, "DELETE FROM budget_reservations WHERE expires_at <= $1", now); err != nil {
		return total, fmt.Errorf("store: purge expired reservations: %w", err)
	}
	if audit != nil {
		audit.Detail = fmt.Sprintf("purged %d refresh tokens", total)
		if err := s.AppendAudit(ctx, audit); err != nil {
			return total, err
		}
	}
	return total, nil
}
