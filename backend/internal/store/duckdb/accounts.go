package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// CreateAccountToken stores a one-time token for setting the password of
// its user; the user's older unused tokens of the same purpose stop working
// (a newer link replaces the last one). audit is written alongside.
func (s *Store) CreateAccountToken(ctx context.Context, tok model.AccountToken, audit *model.Audit) error {
	return s.write(ctx, func(t *Tx) error {
		if _, err := scanUser(t.queryRow(t.st.userByID, tok.UserID)); err != nil {
			return ruleOrFault(err, "read user")
		}
		if _, err := t.conn.ExecContext(t.ctx, `UPDATE account_tokens SET used_at = ?
			WHERE user_id = ? AND purpose = ? AND used_at IS NULL`, s.now(), tok.UserID, tok.Purpose); err != nil {
			return fmt.Errorf("store: supersede account tokens: %w", err)
		}
		if _, err := t.conn.ExecContext(t.ctx, `INSERT INTO account_tokens (id, user_id, purpose, token_hash, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`, tok.ID, tok.UserID, tok.Purpose, tok.TokenHash,
			tok.CreatedAt.UTC().Truncate(time.Microsecond), tok.ExpiresAt.UTC().Truncate(time.Microsecond)); err != nil {
			return fmt.Errorf("store: insert account token: %w", err)
		}
		return t.audit(audit)
	})
}

// RedeemAccountToken sets the password of the token's user, in one write:
// the token must have this purpose, be unused, unexpired and not
// superseded. It is used up with every other unused token of the user, and
// every session of the user ends. ErrAccountTokenInvalid otherwise; audit
// (its target filled in) is written alongside.
func (s *Store) RedeemAccountToken(ctx context.Context, hash, purpose, passwordHash string, audit *model.Audit) (model.User, error) {
	var out model.User
	err := s.write(ctx, func(t *Tx) error {
		now := s.now().Truncate(time.Microsecond)
		var (
			user      uuid.UUID
			tokPurp   string
			expiresAt time.Time
			usedAt    sql.NullTime
		)
		err := t.conn.QueryRowContext(t.ctx, "SELECT user_id, purpose, expires_at, used_at FROM account_tokens WHERE token_hash = ?", hash).
			Scan(&user, &tokPurp, &expiresAt, &usedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return rule(model.ErrAccountTokenInvalid)
		} else if err != nil {
			return fmt.Errorf("store: find account token: %w", err)
		}
		if tokPurp != purpose || usedAt.Valid || !now.Before(expiresAt) {
			return rule(model.ErrAccountTokenInvalid)
		}
		u, err := scanUser(t.queryRow(t.st.userByID, user))
		if errors.Is(err, model.ErrNotFound) {
			return rule(model.ErrAccountTokenInvalid)
		} else if err != nil {
			return fmt.Errorf("store: read user: %w", err)
		}
		if _, err := t.exec(t.st.updatePassword, passwordHash, now, user); err != nil {
			return fmt.Errorf("store: set password: %w", err)
		}
		if err := t.useAccountTokens(user); err != nil {
			return err
		}
		if err := t.revokeUser(user, uuid.Nil); err != nil {
			return err
		}
		if audit != nil {
			audit.TargetID = user.String()
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		u.PasswordHash, u.UpdatedAt = passwordHash, now
		out = u
		t.AfterCommit(func() { s.users.put(u) })
		return nil
	})
	return out, err
}

// useAccountTokens ends every unused token of user: after a password is
// set, by a link or by the user.
func (t *Tx) useAccountTokens(user uuid.UUID) error {
	if _, err := t.conn.ExecContext(t.ctx, "UPDATE account_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
		t.s.now(), user); err != nil {
		return fmt.Errorf("store: use up account tokens: %w", err)
	}
	return nil
}
