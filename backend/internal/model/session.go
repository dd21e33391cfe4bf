package model

import (
	"time"

	"github.com/google/uuid"
)

// A session is a refresh-token family: a sign-in and every token that
// rotation issued from it. Its id is the access tokens' sid claim.

// NewSession is a sign-in: the first refresh token of a new family.
type NewSession struct {
	UserID uuid.UUID
	// UserUpdatedAt is the account as the sign-in verified it (its
	// UpdatedAt). If the account changed since (password, email, role) or
	// is gone, the store refuses the session with ErrAccountChanged: a
	// sign-in in flight must not outlive a password change.
	UserUpdatedAt time.Time
	TokenHash     string
	ExpiresAt     time.Time
	UserAgent     string
	IP            string
	// Short: signed in without "keep me signed in"; refreshes keep it to
	// Rotation.ShortExpiresAt.
	Short bool
	// Audit, when given, is written with the session (a sign-in's entry).
	Audit *Audit
}

// Rotation exchanges the refresh token whose hash is OldHash for a new one.
type Rotation struct {
	OldHash   string
	NewHash   string
	ExpiresAt time.Time
	// ShortExpiresAt is the successor's expiry when the session is short.
	ShortExpiresAt time.Time
	UserAgent      string
	IP             string
	RequestID      string // for the audit entries of a reuse or a retry
	// RetryGrace is how long after a rotation the rotated token may be
	// presented again as a retry (a client that never got the answer, two
	// frontends refreshing at once): the unused successor is revoked and a
	// new one issued. Zero: any second presentation is reuse.
	RetryGrace time.Duration
}

// Session describes a live session (a family with an active token).
type Session struct {
	ID         uuid.UUID // the family id: the access tokens' sid
	UserID     uuid.UUID
	CreatedAt  time.Time // the sign-in
	LastUsedAt time.Time // the last refresh
	ExpiresAt  time.Time
	UserAgent  string
	IP         string
	Short      bool // signed in without "keep me signed in"
}

// Refresh-token states, as GET /admin/stats counts them.
const (
	TokenActive  = "active"
	TokenRotated = "rotated"
	TokenRevoked = "revoked"
	TokenExpired = "expired"
)
