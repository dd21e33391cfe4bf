package model

import (
	"time"

	"github.com/google/uuid"
)

// Roles of a user.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// User is an account.
type User struct {
	ID           uuid.UUID
	Email        string // trimmed and lower-cased
	PasswordHash string
	Role         string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// IsAdmin reports whether the user holds the admin role.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// NewUser builds an account with a fresh UUIDv7 id (time-ordered, so
// primary-key indexes stay append-friendly), created at now.
func NewUser(email, passwordHash, role string, now time.Time) User {
	now = now.UTC().Truncate(time.Microsecond)
	return User{ID: uuid.Must(uuid.NewV7()), Email: email, PasswordHash: passwordHash, Role: role,
		CreatedAt: now, UpdatedAt: now}
}

// UserChange is an update of an account. Nil fields stay as they are.
type UserChange struct {
	Email        *string
	PasswordHash *string
	// EndOtherSessions revokes, in the same transaction, every session of
	// the user but KeepSession (a password change by the user).
	EndOtherSessions bool
	KeepSession      uuid.UUID
}

// UserPage is one page of a user listing and the number of matches.
type UserPage struct {
	Users []User
	Total int
}
