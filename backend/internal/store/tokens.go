package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/shared/api"
)

// Refresh-token states as stored. "expired" is not stored: it is an active
// or rotated token past its expires_at.
const (
	tokenActive  = "active"
	tokenRotated = "rotated"
	tokenRevoked = "revoked"
)

// NewSession is a sign-in: the first refresh token of a new family.
type NewSession struct {
	UserID    uuid.UUID
	TokenHash string
	ExpiresAt time.Time
	UserAgent string
	IP        string
}

// Session describes a live session (a family with an active token).
type Session struct {
	ID         uuid.UUID // the family id: the access tokens' sid
	UserID     uuid.UUID
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	UserAgent  string
	IP         string
}

// CreateSession stores the first refresh token of a new session and returns
// the session id.
func (s *Store) CreateSession(ctx context.Context, ns NewSession) (uuid.UUID, error) {
	family := uuid.Must(uuid.NewV7())
	now := s.now().Truncate(time.Microsecond)
	err := s.write(ctx, func(t *Tx) error {
		if _, err := t.exec(s.stmts.insertToken, uuid.Must(uuid.NewV7()), ns.TokenHash, family, ns.UserID,
			now, ns.ExpiresAt, now, ns.UserAgent, ns.IP); err != nil {
			return fmt.Errorf("store: insert refresh token: %w", err)
		}
		t.AfterCommit(func() { s.sessions.set(family, ns.UserID, ns.ExpiresAt) })
		return nil
	})
	return family, err
}

// Rotation exchanges the refresh token with hash OldHash for a new one.
type Rotation struct {
	OldHash   string
	NewHash   string
	ExpiresAt time.Time
	UserAgent string
	IP        string
	RequestID string
}

// Rotate performs one refresh as one atomic step: the presented token must be
// active and unexpired; it becomes rotated and its successor is inserted. A
// rotated token presented again revokes its whole family (RFC 9700 4.14)
// and yields ErrTokenReused; anything else unusable yields ErrTokenInvalid.
func (s *Store) Rotate(ctx context.Context, r Rotation) (Session, error) {
	var out Session
	err := s.write(ctx, func(t *Tx) error {
		var (
			id, family, user uuid.UUID
			status           string
			expiresAt, born  time.Time
		)
		err := t.queryRow(s.stmts.tokenByHash, r.OldHash).Scan(&id, &family, &user, &status, &expiresAt, &born)
		if errors.Is(notFound(err), ErrNotFound) {
			return rule(ErrTokenInvalid)
		} else if err != nil {
			return fmt.Errorf("store: find refresh token: %w", err)
		}
		now := s.now().Truncate(time.Microsecond)
		switch {
		case status == tokenRotated && now.Before(expiresAt):
			return s.revokeReusedFamily(t, family, user, r.RequestID)
		case status != tokenActive || !now.Before(expiresAt):
			return rule(ErrTokenInvalid)
		}
		if _, err := t.exec(s.stmts.setTokenStatus, tokenRotated, nil, id); err != nil {
			return fmt.Errorf("store: mark token rotated: %w", err)
		}
		if _, err := t.exec(s.stmts.insertToken, uuid.Must(uuid.NewV7()), r.NewHash, family, user,
			now, r.ExpiresAt, born, r.UserAgent, r.IP); err != nil {
			return fmt.Errorf("store: insert successor token: %w", err)
		}
		out = Session{ID: family, UserID: user, CreatedAt: born, LastUsedAt: now, ExpiresAt: r.ExpiresAt, UserAgent: r.UserAgent, IP: r.IP}
		t.AfterCommit(func() { s.sessions.set(family, user, r.ExpiresAt) })
		return nil
	})
	return out, err
}

func (s *Store) revokeReusedFamily(t *Tx, family, user uuid.UUID, requestID string) error {
	if _, err := t.exec(s.stmts.revokeFamily, s.now(), family); err != nil {
		return fmt.Errorf("store: revoke reused family: %w", err)
	}
	err := t.audit(&Audit{Action: api.AuditFamilyRevoked, ActorID: user.String(), TargetID: family.String(),
		Detail: "a rotated refresh token was presented again; the session was revoked", RequestID: requestID})
	if err != nil {
		return err
	}
	t.AfterCommit(func() { s.sessions.drop(family) })
	return rule(ErrTokenReused)
}

// RevokeByToken ends the session of the refresh token with this hash
// (logout). An unknown hash is not an error.
func (s *Store) RevokeByToken(ctx context.Context, hash string) error {
	return s.write(ctx, func(t *Tx) error {
		var (
			id, family, user uuid.UUID
			status           string
			expiresAt, born  time.Time
		)
		err := t.queryRow(s.stmts.tokenByHash, hash).Scan(&id, &family, &user, &status, &expiresAt, &born)
		if err != nil {
			if errors.Is(notFound(err), ErrNotFound) {
				return nil
			}
			return fmt.Errorf("store: find refresh token: %w", err)
		}
		if _, err := t.exec(s.stmts.revokeFamily, s.now(), family); err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		t.AfterCommit(func() { s.sessions.drop(family) })
		return nil
	})
}

// RevokeSession ends one session of user; ErrNotFound if it is not one of
// the user's live sessions.
func (s *Store) RevokeSession(ctx context.Context, user, family uuid.UUID) error {
	if owner, ok := s.sessions.active(family, s.now()); !ok || owner != user {
		return ErrNotFound
	}
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.exec(s.stmts.revokeFamily, s.now(), family); err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		t.AfterCommit(func() { s.sessions.drop(family) })
		return nil
	})
}

// RevokeOtherSessions ends every session of user but keep.
func (s *Store) RevokeOtherSessions(ctx context.Context, user, keep uuid.UUID) error {
	return s.write(ctx, func(t *Tx) error { return s.revokeSessionsExcept(t, user, keep) })
}

func (s *Store) revokeSessionsExcept(t *Tx, user, keep uuid.UUID) error {
	for _, family := range s.sessions.ofUser(user) {
		if family == keep {
			continue
		}
		if _, err := t.exec(s.stmts.revokeFamily, s.now(), family); err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		t.AfterCommit(func() { s.sessions.drop(family) })
	}
	return nil
}

// SessionActive reports whether session family is live, and whose it is. It
// reads memory only: this runs on every authenticated request.
func (s *Store) SessionActive(family uuid.UUID) (uuid.UUID, bool) {
	return s.sessions.active(family, s.now())
}

// Sessions lists the user's live sessions, most recently used first.
func (s *Store) Sessions(ctx context.Context, user uuid.UUID) ([]Session, error) {
	rows, err := s.stmts.tokensByUser.QueryContext(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	defer rows.Close()
	now := s.now()
	var out []Session
	for rows.Next() {
		var (
			se     = Session{UserID: user}
			status string
		)
		if err := rows.Scan(&se.ID, &status, &se.LastUsedAt, &se.ExpiresAt, &se.CreatedAt, &se.UserAgent, &se.IP); err != nil {
			return nil, fmt.Errorf("store: scan session: %w", err)
		}
		if status == tokenActive && now.Before(se.ExpiresAt) {
			out = append(out, se)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsedAt.After(out[j].LastUsedAt) })
	return out, nil
}

// TokenCounts counts refresh tokens per state (active, rotated, revoked,
// expired).
func (s *Store) TokenCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT CASE WHEN status <> 'revoked' AND expires_at <= ? THEN 'expired' ELSE status END AS state,
		count(*) FROM refresh_tokens GROUP BY state`, s.now())
	if err != nil {
		return nil, fmt.Errorf("store: count tokens: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("store: count tokens: %w", err)
		}
		out[state] = n
	}
	return out, rows.Err()
}

// purgeBatch bounds one purge transaction: a DELETE costs 100–200 µs per
// indexed row here, and other writes wait while it runs.
const purgeBatch = 500

// PurgeTokens deletes revoked and expired refresh tokens in small batches
// and records one audit entry. It returns how many rows went.
func (s *Store) PurgeTokens(ctx context.Context, audit *Audit) (int, error) {
	total := 0
	for {
		var n int64
		err := s.write(ctx, func(t *Tx) error {
			res, err := t.tx.ExecContext(t.ctx, `DELETE FROM refresh_tokens WHERE id IN (
				SELECT id FROM refresh_tokens WHERE status = 'revoked' OR expires_at <= ? LIMIT ?)`, s.now(), purgeBatch)
			if err != nil {
				return fmt.Errorf("store: purge tokens: %w", err)
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < purgeBatch {
			break
		}
	}
	if audit != nil {
		audit.Detail = fmt.Sprintf("purged %d refresh tokens", total)
		if err := s.AppendAudit(ctx, audit); err != nil {
			return total, err
		}
	}
	return total, nil
}

// loadSessions fills the session cache from the database at start-up.
func (s *Store) loadSessions(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "SELECT family_id, user_id, expires_at FROM refresh_tokens WHERE status = 'active' AND expires_at > ?", s.now())
	if err != nil {
		return fmt.Errorf("store: load sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var family, user uuid.UUID
		var exp time.Time
		if err := rows.Scan(&family, &user, &exp); err != nil {
			return fmt.Errorf("store: load sessions: %w", err)
		}
		s.sessions.set(family, user, exp)
	}
	return rows.Err()
}
