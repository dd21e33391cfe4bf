package model

import (
	"time"

	"github.com/google/uuid"
)

// Audit is one audit-trail record. The store writes it in the same
// transaction as the change it records and fills in ID and At.
type Audit struct {
	ID        uuid.UUID
	At        time.Time
	ActorID   string
	Action    string // one of api.Audit*
	TargetID  string
	Detail    string
	RequestID string
}

// AuditFilter selects audit records; empty fields match everything.
type AuditFilter struct {
	Actor  string
	Action string
	Limit  int
	Offset int
}
