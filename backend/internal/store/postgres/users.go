package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
)

const userColumns = "id, email, password_hash, role, created_at, updated_at"

// adminsLock is the advisory lock under which the admins are counted and
// changed: two replicas demoting the last two admins at once must not both
// see another admin left.
const adminsLock = "admins"

func scanUser(r pgx.Row) (model.User, error) {
	var u model.User
	err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.User{}, model.ErrNotFound
	}
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return u, err
}

func userNote(id uuid.UUID) string { return "u:" + id.String() }

// CreateUser inserts u; model.ErrEmailTaken if the email is registered.
// audit, when given, is written in the same transaction.
func (s *Store) CreateUser(ctx context.Context, u model.User, audit *model.Audit) error {
	return s.inTx(ctx, func(t *tx) error {
		tag, err := t.exec("INSERT INTO users ("+userColumns+") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
			u.ID, clean(u.Email), u.PasswordHash, u.Role, micro(u.CreatedAt), micro(u.UpdatedAt))
		if err != nil {
			return fmt.Errorf("store: insert user: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return model.ErrEmailTaken
		}
		return t.audit(audit)
	})
}

// EnsureAdmin creates u as an admin if the database has no admin yet. It
// reports whether it did; an existing account with u's email is promoted.
// Replicas starting together create one admin: the count is taken under the
// admins lock.
func (s *Store) EnsureAdmin(ctx context.Context, u model.User) (created bool, err error) {
	err = s.inTx(ctx, func(t *tx) error {
		created = false
		if err := t.lockXact(adminsLock); err != nil {
			return err
		}
		admins, err := t.countAdmins()
		if err != nil || admins > 0 {
			return err
		}
		existing, err := scanUser(t.queryRow("SELECT "+userColumns+" FROM users WHERE email = $1 FOR UPDATE", clean(u.Email)))
		switch {
		case err == nil:
			if _, err := t.exec("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3",
				model.RoleAdmin, micro(s.now()), existing.ID); err != nil {
				return fmt.Errorf("store: promote %s: %w", u.Email, err)
			}
			return t.notify(userNote(existing.ID))
		case !errors.Is(err, model.ErrNotFound):
			return fmt.Errorf("store: check email: %w", err)
		}
		if _, err := t.exec("INSERT INTO users ("+userColumns+") VALUES ($1, $2, $3, $4, $5, $6)",
			u.ID, u.Email, u.PasswordHash, model.RoleAdmin, micro(u.CreatedAt), micro(u.UpdatedAt)); err != nil {
			return fmt.Errorf("store: insert admin: %w", err)
		}
		created = true
		return nil
	})
	return created, err
}

func (t *tx) countAdmins() (int, error) {
	var n int
	if err := t.queryRow("SELECT count(*) FROM users WHERE role = $1", model.RoleAdmin).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count admins: %w", err)
	}
	return n, nil
}

// UserByID returns a user, from this replica's cache when it was read
// within the cache's lifetime and nothing announced a change since.
func (s *Store) UserByID(ctx context.Context, id uuid.UUID) (model.User, error) {
	u, ok, gen := s.cache.user(id)
	if ok {
		return u, nil
	}
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", id))
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return model.User{}, err
		}
		return model.User{}, fmt.Errorf("store: user by id: %w", err)
	}
	s.cache.fillUser(u, gen)
	return u, nil
}

// UserByEmail returns the user with this (normalised) email.
func (s *Store) UserByEmail(ctx context.Context, email string) (model.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE email = $1", clean(email)))
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return model.User{}, fmt.Errorf("store: user by email: %w", err)
	}
	return u, err
}

// lockUser reads user id for update (the row stays locked until commit).
func (t *tx) lockUser(id uuid.UUID) (model.User, error) {
	u, err := scanUser(t.queryRow("SELECT "+userColumns+" FROM users WHERE id = $1 FOR UPDATE", id))
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return model.User{}, fmt.Errorf("store: load user: %w", err)
	}
	return u, err
}

// UpdateUser applies change to user id and returns the new row.
func (s *Store) UpdateUser(ctx context.Context, id uuid.UUID, change model.UserChange, audits ...*model.Audit) (model.User, error) {
	var out model.User
	err := s.inTx(ctx, func(t *tx) error {
		u, err := t.lockUser(id)
		if err != nil {
			return err
		}
		now := micro(s.now())
		if change.Email != nil && *change.Email != u.Email {
			_, err := t.exec("UPDATE users SET email = $1, updated_at = $2 WHERE id = $3", clean(*change.Email), now, id)
			if isUniqueViolation(err, "") {
				return model.ErrEmailTaken
			} else if err != nil {
				return fmt.Errorf("store: update email: %w", err)
			}
			u.Email, u.UpdatedAt = *change.Email, now
		}
		if change.PasswordHash != nil {
			if _, err := t.exec("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3", *change.PasswordHash, now, id); err != nil {
				return fmt.Errorf("store: update password: %w", err)
			}
			u.PasswordHash, u.UpdatedAt = *change.PasswordHash, now
			// A new password makes every reset or invitation link void.
			if err := t.useAccountTokens(id); err != nil {
				return err
			}
		}
		if change.EndOtherSessions {
			if err := t.revokeUser(id, change.KeepSession); err != nil {
				return err
			}
		}
		for _, a := range audits {
			if err := t.audit(a); err != nil {
				return err
			}
		}
		out = u
		return t.notify(userNote(id))
	})
	return out, err
}

// SetRole changes a user's role; model.ErrLastAdmin if it would demote the
// last admin, model.ErrNotFound for an unknown id.
func (s *Store) SetRole(ctx context.Context, id uuid.UUID, role string, audit *model.Audit) (model.User, error) {
	var out model.User
	err := s.inTx(ctx, func(t *tx) error {
		u, err := t.lockUser(id)
		if err != nil {
			return err
		}
		if u.Role == role {
			out = u
			return nil
		}
		if err := t.keepAnAdmin(u); err != nil {
			return err
		}
		u.Role, u.UpdatedAt = role, micro(s.now())
		if _, err := t.exec("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3", role, u.UpdatedAt, id); err != nil {
			return fmt.Errorf("store: update role: %w", err)
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		out = u
		return t.notify(userNote(id))
	})
	return out, err
}

// DeleteUser removes a user, revokes all their sessions and API keys, and
// deletes their budget override, conversations, images and account
// tokens, in one transaction. Every replica forgets the user and their
// keys at commit (the user's notification covers both).
func (s *Store) DeleteUser(ctx context.Context, id uuid.UUID, audit *model.Audit) error {
	return s.inTx(ctx, func(t *tx) error {
		u, err := t.lockUser(id)
		if err != nil {
			return err
		}
		if err := t.keepAnAdmin(u); err != nil {
			return err
		}
		if err := t.revokeUser(id, uuid.Nil); err != nil {
			return err
		}
		if audit != nil && audit.TargetEmail == "" {
			audit.TargetEmail = u.Email // the row goes next
		}
		now := micro(s.now())
		for _, step := range []struct {
			what, sql string
			args      []any
		}{
			{"revoke the user's API keys", "UPDATE api_keys SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", []any{id, now}},
			{"delete the user's budget", "DELETE FROM user_budgets WHERE user_id = $1", []any{id}},
			{"delete user", "DELETE FROM users WHERE id = $1", []any{id}},
			// What is theirs goes with them: conversations, messages, images.
			{"delete messages", "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE user_id = $1)", []any{id}},
			{"delete conversations", "DELETE FROM conversations WHERE user_id = $1", []any{id}},
			{"delete images", "DELETE FROM images WHERE user_id = $1", []any{id}},
			{"delete account tokens", "DELETE FROM account_tokens WHERE user_id = $1", []any{id}},
		} {
			if _, err := t.exec(step.sql, step.args...); err != nil {
				return fmt.Errorf("store: %s: %w", step.what, err)
			}
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		return t.notify(userNote(id))
	})
}

// keepAnAdmin refuses (model.ErrLastAdmin) to take the admin role away from
// u if u is the last admin. The count runs under the admins lock, after
// any other replica's demotion or deletion that held it committed.
func (t *tx) keepAnAdmin(u model.User) error {
	if u.Role != model.RoleAdmin {
		return nil
	}
	if err := t.lockXact(adminsLock); err != nil {
		return err
	}
	admins, err := t.countAdmins()
	if err != nil {
		return err
	}
	if admins <= 1 {
		return model.ErrLastAdmin
	}
	return nil
}

// ListUsers pages through users by creation time, optionally filtered by an
// email substring (matched literally, case-insensitively).
func (s *Store) ListUsers(ctx context.Context, query string, limit, offset int) (model.UserPage, error) {
	where, args := "", []any{}
	if query != "" {
		where = " WHERE strpos(email, $1) > 0"
		args = append(args, clean(strings.ToLower(query)))
	}
	var page model.UserPage
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM users"+where, args...).Scan(&page.Total); err != nil {
		return model.UserPage{}, fmt.Errorf("store: count users: %w", err)
	}
	n := len(args)
	rows, err := s.pool.Query(ctx, fmt.Sprintf("SELECT %s FROM users%s ORDER BY created_at, id LIMIT $%d OFFSET $%d", userColumns, where, n+1, n+2),
		append(args, limit, offset)...)
	if err != nil {
		return model.UserPage{}, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return model.UserPage{}, fmt.Errorf("store: scan user: %w", err)
		}
		page.Users = append(page.Users, u)
	}
	if err := rows.Err(); err != nil {
		return model.UserPage{}, fmt.Errorf("store: list users: %w", err)
	}
	return page, nil
}

// RoleCounts counts users per role.
func (s *Store) RoleCounts(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, "roles", "SELECT role, count(*) FROM users GROUP BY role")
}

// countBy runs a "SELECT key, count(*) … GROUP BY key" query into a map.
func (s *Store) countBy(ctx context.Context, what, query string, args ...any) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: count %s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return nil, fmt.Errorf("store: count %s: %w", what, err)
		}
		out[key] = n
	}
	return out, rows.Err()
}

// timeOrZero reads a nullable instant.
func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
