package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

type rowScanner interface{ Scan(dest ...any) error }

func scanUser(r rowScanner) (model.User, error) {
	var u model.User
	err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return model.User{}, model.ErrNotFound
	}
	return u, err
}

// CreateUser inserts u; model.ErrEmailTaken if the email is registered. audit, when
// given, is written in the same transaction.
func (s *Store) CreateUser(ctx context.Context, u model.User, audit *model.Audit) error {
	return s.write(ctx, func(t *Tx) error {
		if _, err := scanUser(t.queryRow(t.st.userByEmail, u.Email)); err == nil {
			return rule(model.ErrEmailTaken)
		} else if !errors.Is(err, model.ErrNotFound) {
			return fmt.Errorf("store: check email: %w", err)
		}
		if _, err := t.exec(t.st.insertUser, u.ID, u.Email, u.PasswordHash, u.Role, u.CreatedAt, u.UpdatedAt); err != nil {
			return fmt.Errorf("store: insert user: %w", err)
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		t.AfterCommit(func() { s.users.put(u) })
		return nil
	})
}

// EnsureAdmin creates u as an admin if the database has no admin yet. It
// reports whether it did; an existing account with u's email is promoted.
func (s *Store) EnsureAdmin(ctx context.Context, u model.User) (created bool, err error) {
	err = s.write(ctx, func(t *Tx) error {
		created = false
		var admins int
		if err := t.queryRow(t.st.countAdmins, "admin").Scan(&admins); err != nil {
			return fmt.Errorf("store: count admins: %w", err)
		}
		if admins > 0 {
			return nil
		}
		existing, err := scanUser(t.queryRow(t.st.userByEmail, u.Email))
		switch {
		case err == nil:
			existing.Role, existing.UpdatedAt = "admin", s.now()
			if _, err := t.exec(t.st.updateRole, "admin", existing.UpdatedAt, existing.ID); err != nil {
				return fmt.Errorf("store: promote %s: %w", u.Email, err)
			}
			t.AfterCommit(func() { s.users.put(existing) })
			return nil
		case !errors.Is(err, model.ErrNotFound):
			return fmt.Errorf("store: check email: %w", err)
		}
		u.Role = "admin"
		if _, err := t.exec(t.st.insertUser, u.ID, u.Email, u.PasswordHash, u.Role, u.CreatedAt, u.UpdatedAt); err != nil {
			return fmt.Errorf("store: insert admin: %w", err)
		}
		created = true
		t.AfterCommit(func() { s.users.put(u) })
		return nil
	})
	return created, err
}

// UserByID returns a user, from memory when it was read before.
func (s *Store) UserByID(ctx context.Context, id uuid.UUID) (model.User, error) {
	u, ok, gen := s.users.get(id)
	if ok {
		return u, nil
	}
	u, err := scanUser(s.stmts.userByID.QueryRowContext(ctx, id))
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return model.User{}, err
		}
		return model.User{}, fmt.Errorf("store: user by id: %w", err)
	}
	s.users.fill(u, gen)
	return u, nil
}

// UserByEmail returns the user with this (normalised) email.
func (s *Store) UserByEmail(ctx context.Context, email string) (model.User, error) {
	u, err := scanUser(s.stmts.userByEmail.QueryRowContext(ctx, email))
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return model.User{}, fmt.Errorf("store: user by email: %w", err)
	}
	return u, err
}

// UpdateUser applies change to user id and returns the new row.
func (s *Store) UpdateUser(ctx context.Context, id uuid.UUID, change model.UserChange, audits ...*model.Audit) (model.User, error) {
	var out model.User
	err := s.write(ctx, func(t *Tx) error {
		u, err := scanUser(t.queryRow(t.st.userByID, id))
		if err != nil {
			return ruleOrFault(err, "load user")
		}
		now := s.now().Truncate(time.Microsecond)
		if change.Email != nil && *change.Email != u.Email {
			if _, err := scanUser(t.queryRow(t.st.userByEmail, *change.Email)); err == nil {
				return rule(model.ErrEmailTaken)
			} else if !errors.Is(err, model.ErrNotFound) {
				return fmt.Errorf("store: check email: %w", err)
			}
			if _, err := t.exec(t.st.updateEmail, *change.Email, now, id); err != nil {
				return fmt.Errorf("store: update email: %w", err)
			}
			t.userChanged(id)
			u.Email, u.UpdatedAt = *change.Email, now
		}
		if change.PasswordHash != nil {
			if _, err := t.exec(t.st.updatePassword, *change.PasswordHash, now, id); err != nil {
				return fmt.Errorf("store: update password: %w", err)
			}
			// A new password makes every reset or invitation link void.
			if err := t.useAccountTokens(id); err != nil {
				return err
			}
			u.PasswordHash, u.UpdatedAt = *change.PasswordHash, now
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
		t.AfterCommit(func() { s.users.put(u) })
		return nil
	})
	return out, err
}

// SetRole changes a user's role; model.ErrLastAdmin if it would demote the last
// admin, model.ErrNotFound for an unknown id.
func (s *Store) SetRole(ctx context.Context, id uuid.UUID, role string, audit *model.Audit) (model.User, error) {
	var out model.User
	err := s.write(ctx, func(t *Tx) error {
		u, err := scanUser(t.queryRow(t.st.userByID, id))
		if err != nil {
			return ruleOrFault(err, "load user")
		}
		if u.Role == role {
			out = u
			return nil
		}
		if err := t.keepAnAdmin(u); err != nil {
			return err
		}
		u.Role, u.UpdatedAt = role, s.now().Truncate(time.Microsecond)
		if _, err := t.exec(t.st.updateRole, role, u.UpdatedAt, id); err != nil {
			return fmt.Errorf("store: update role: %w", err)
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		out = u
		t.AfterCommit(func() { s.users.put(u) })
		return nil
	})
	return out, err
}

// DeleteUser removes a user, revokes all their sessions and deletes their
// conversations and images.
func (s *Store) DeleteUser(ctx context.Context, id uuid.UUID, audit *model.Audit) error {
	return s.write(ctx, func(t *Tx) error {
		u, err := scanUser(t.queryRow(t.st.userByID, id))
		if err != nil {
			return ruleOrFault(err, "load user")
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
		if err := t.revokeUserKeys(id); err != nil {
			return err
		}
		if _, err := t.exec(t.st.deleteUser, id); err != nil {
			return fmt.Errorf("store: delete user: %w", err)
		}
		t.userChanged(id)
		// What is theirs goes with them: conversations, messages, images.
		if err := t.deleteConversations("user_id", id); err != nil {
			return err
		}
		if _, err := t.conn.ExecContext(t.ctx, "DELETE FROM images WHERE user_id = ?", id); err != nil {
			return fmt.Errorf("store: delete images: %w", err)
		}
		if _, err := t.conn.ExecContext(t.ctx, "DELETE FROM account_tokens WHERE user_id = ?", id); err != nil {
			return fmt.Errorf("store: delete account tokens: %w", err)
		}
		if err := t.audit(audit); err != nil {
			return err
		}
		t.AfterCommit(func() { s.users.drop(id) })
		return nil
	})
}

// ListUsers pages through users by creation time, optionally filtered by an
// email substring (matched literally, case-insensitively).
func (s *Store) ListUsers(ctx context.Context, query string, limit, offset int) (model.UserPage, error) {
	where, args := "", []any{}
	if query != "" {
		where = " WHERE contains(email, ?)"
		args = append(args, strings.ToLower(query))
	}
	var page model.UserPage
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM users"+where, args...).Scan(&page.Total); err != nil {
		return model.UserPage{}, fmt.Errorf("store: count users: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+userColumns+" FROM users"+where+
		" ORDER BY created_at, id LIMIT ? OFFSET ?", append(args, limit, offset)...)
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
	rows, err := s.db.QueryContext(ctx, query, args...)
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

// keepAnAdmin refuses (model.ErrLastAdmin) to take the admin role away from u if
// u is the last admin. It runs inside the write, so no concurrent change can
// slip between the count and the change.
func (t *Tx) keepAnAdmin(u model.User) error {
	if u.Role != "admin" {
		return nil
	}
	var admins int
	if err := t.queryRow(t.st.countAdmins, "admin").Scan(&admins); err != nil {
		return fmt.Errorf("store: count admins: %w", err)
	}
	if admins <= 1 {
		return rule(model.ErrLastAdmin)
	}
	return nil
}

// ruleOrFault turns model.ErrNotFound into a rule outcome and anything else into a
// fault with context.
func ruleOrFault(err error, what string) error {
	if errors.Is(err, model.ErrNotFound) {
		return rule(model.ErrNotFound)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}
