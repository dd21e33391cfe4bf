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

// Account tokens change with their user's row locked (FOR UPDATE), always
// user first, then tokens: a new link, a redemption and a password change
// of one user take turns on any replicas, so "the newer link voids the
// older" and "a link works once" hold across them, and no two of them
// wait on each other in opposite orders.

// CreateAccountToken stores a one-time token for setting the password of
// its user; the user's older unused tokens of the same purpose stop working
// (a newer link replaces the last one). model.ErrNotFound for an unknown
// user; audit is written alongside.
func (s *Store) CreateAccountToken(ctx context.Context, tok model.AccountToken, audit *model.Audit) error {
	return s.inTx(ctx, func(t *tx) error {
		if _, err := t.lockUser(tok.UserID); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL`,
			micro(s.now()), tok.UserID, clean(tok.Purpose)); err != nil {
			return fmt.Errorf("store: supersede account tokens: %w", err)
		}
		if _, err := t.exec(`INSERT INTO account_tokens (id, user_id, purpose, token_hash, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, tok.ID, tok.UserID, clean(tok.Purpose), clean(tok.TokenHash),
			micro(tok.CreatedAt), micro(tok.ExpiresAt)); err != nil {
			return fmt.Errorf("store: insert account token: %w", err)
		}
		return t.audit(audit)
	})
}

// RedeemAccountToken sets the password of the token's user, in one
// transaction: the token must have this purpose, be unused, unexpired and
// not superseded. It is used up with every other unused token of the user,
// and every session of the user ends (on every replica, at commit).
// ErrAccountTokenInvalid otherwise; audit (its target filled in) is
// written alongside.
func (s *Store) RedeemAccountToken(ctx context.Context, hash, purpose, passwordHash string, audit *model.Audit) (model.User, error) {
	hash = clean(hash)
	var out model.User
	err := s.inTx(ctx, func(t *tx) error {
		now := micro(s.now())
		// Find the token's user, lock the user, then read the token again
		// under its own lock: what a concurrent redemption committed first
		// is seen.
		var owner uuid.UUID
		err := t.queryRow("SELECT user_id FROM account_tokens WHERE token_hash = $1", hash).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return model.ErrAccountTokenInvalid
		} else if err != nil {
			return fmt.Errorf("store: find account token: %w", err)
		}
		u, err := t.lockUser(owner)
		if errors.Is(err, model.ErrNotFound) {
			return model.ErrAccountTokenInvalid
		} else if err != nil {
			return err
		}
		var (
			tokPurpose string
			expiresAt  time.Time
			usedAt     *time.Time
		)
		err = t.queryRow("SELECT purpose, expires_at, used_at FROM account_tokens WHERE token_hash = $1 FOR UPDATE", hash).
			Scan(&tokPurpose, &expiresAt, &usedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return model.ErrAccountTokenInvalid
		} else if err != nil {
			return fmt.Errorf("store: read account token: %w", err)
		}
		if tokPurpose != purpose || usedAt != nil || !now.Before(expiresAt) {
			return model.ErrAccountTokenInvalid
		}
		if _, err := t.exec("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3", passwordHash, now, owner); err != nil {
			return fmt.Errorf("store: set password: %w", err)
		}
		if err := t.useAccountTokens(owner); err != nil {
			return err
		}
		if err := t.revokeUser(owner, uuid.Nil); err != nil {
			return err
		}
		if audit != nil {
			audit.TargetID = owner.String()
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		u.PasswordHash, u.UpdatedAt = passwordHash, now
		out = u
		return t.notify(userNote(owner))
	})
	return out, err
}

// useAccountTokens ends every unused token of user: after a password is
// set, by a link or by the user.
func (t *tx) useAccountTokens(user uuid.UUID) error {
	if _, err := t.exec("UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL", micro(t.s.now()), user); err != nil {
		return fmt.Errorf("store: use up account tokens: %w", err)
	}
	return nil
}
