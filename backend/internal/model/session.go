package model

import (
	"time"

	"github.com/google/uuid"
)

// A session is a refresh-token family: a sign-in and every token that
// rotation issued from it. Its id is the access tokens' sid claim.

// NewSession is a sign-in: the first refresh token of a new family.
type NewSession struct {
	UserID    uuid.UUID
	TokenHash string
	ExpiresAt time.Time
	UserAgent string
	IP        string
}

// Rotation exchanges the refresh token whose hash is OldHash for a new one.
type Rotation struct {
	OldHash   string
	NewHash   string
	ExpiresAt time.Time
	UserAgent string
	IP        string
	RequestID string // for the audit entry of a detected reuse
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
}

// Refresh-token states, as GET /admin/stats counts them.
const (
	TokenActive  = "active"
	TokenRotated = "rotated"
	TokenRevoked = "revoked"
	TokenExpired = "expired"
)
