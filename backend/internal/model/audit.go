package model

import (
	"time"

	"github.com/google/uuid"
)

// Audit is one audit-trail record. The store writes it in the same
// transaction as the change it records and fills in ID and At.
type Audit struct {
	ID       uuid.UUID
	At       time.Time
	ActorID  string
	Action   string // one of api.Audit*
	TargetID string
	// The emails of actor and target as they were, kept so a deleted
	// user's history still reads; the store fills them from the user ids
	// when they are not given.
	ActorEmail  string
	TargetEmail string
	Detail      string
	RequestID   string
}

// AuditFilter selects audit records; empty fields match everything.
type AuditFilter struct {
	Actor  string // a user id
	Email  string // part of the actor's or the target's email
	Action string
	Since  time.Time // zero: no lower bound
	Until  time.Time // zero: no upper bound
	Limit  int
	Offset int
}
