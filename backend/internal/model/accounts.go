package model

import (
	"time"

	"github.com/google/uuid"
)

// Purposes of an account token.
const (
	TokenReset  = "reset"  // set a forgotten password (30 minutes)
	TokenInvite = "invite" // an invited user sets their first password (7 days)
)

// AccountToken is a one-time token to set an account's password, stored
// as the hash of what was mailed or handed over.
type AccountToken struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	Purpose   string
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
}
