package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// API key scopes: what a key may be used for. A key never reaches account
// management (password, email, sessions, other keys) nor admin endpoints,
// whatever its scopes and whatever the user's role.
const (
	ScopeAI   = "ai"   // models, chat, generation, /v1, conversations and kept images
	ScopeRead = "read" // the own profile and usage
)

// Scopes are every scope a key can hold, in the order they are shown.
func Scopes() []string { return []string{ScopeAI, ScopeRead} }

// MaxAPIKeysPerUser bounds the live keys one user holds.
const MaxAPIKeysPerUser = 50

// APIKey is a long-lived credential of a user. Only the SHA-256 of its
// secret is stored; Prefix is the secret's first characters, for display.
type APIKey struct {
	ID     uuid.UUID
	UserID uuid.UUID
	Name   string
	Prefix string
	Hash   string // hex SHA-256 of the secret
	Scopes []string
	// RequestsPerMinute is the key's own rate limit of AI calls; 0 takes
	// the configured default.
	RequestsPerMinute int
	CreatedAt         time.Time
	ExpiresAt         *time.Time
	RevokedAt         *time.Time
	LastUsedAt        *time.Time
	LastUsedIP        string
}

// HasScope reports whether the key may be used for scope.
func (k APIKey) HasScope(scope string) bool { return scope != "" && slices.Contains(k.Scopes, scope) }

// Usable reports whether the key authenticates at now: not revoked, not
// expired.
func (k APIKey) Usable(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// KeyUse is the latest use of a key, recorded in batches.
type KeyUse struct {
	KeyID uuid.UUID
	At    time.Time
	IP    string
}

// APIKeyFilter selects keys: one user's (UserID set) or everyone's.
// Revoked keys are never listed.
type APIKeyFilter struct {
	UserID uuid.UUID
	Limit  int
	Offset int
}

// Reservation holds part of a user's monthly budget for a call in flight:
// its estimated cost. The usage record of the call settles it (the record
// names it), so the real cost replaces the estimate in one step.
type Reservation struct {
	ID     uuid.UUID
	UserID uuid.UUID
	Amount float64
	// Month is the first instant (UTC) of the calendar month the call counts in.
	Month time.Time
	// ExpiresAt frees the reservation of a call that never settled (a crash).
	ExpiresAt time.Time
}

// Spend is a user's month so far: the cost of recorded calls and the
// estimates of the calls in flight.
type Spend struct {
	SpentUSD    float64
	ReservedUSD float64
}

// MonthStart is the first instant of t's calendar month, UTC.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// UserUsage is one user's AI use over a period: by UTC day (oldest first)
// and by model (the most expensive first).
type UserUsage struct {
	ByDay   []UsageRow
	ByModel []UsageRow
}

// BudgetExceededError refuses an AI call that would start while the
// user's monthly spend is at or over the limit.
type BudgetExceededError struct {
	LimitUSD float64
	SpentUSD float64
	ResetsAt time.Time
}

func (e *BudgetExceededError) Error() string {
	if e.LimitUSD == 0 {
		return "AI is not available to this account: its monthly budget is $0"
	}
	return fmt.Sprintf("the monthly AI budget of $%s is used up ($%s spent); it resets at %s",
		usd(e.LimitUSD), usd(e.SpentUSD), e.ResetsAt.UTC().Format(time.RFC3339))
}

// usd writes an amount of dollars with as many decimals as it needs (at
// most six).
func usd(v float64) string {
	s := strconv.FormatFloat(v, 'f', 6, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if !strings.Contains(s, ".") {
		return s + ".00"
	}
	return s
}

// RateLimitedError refuses a call over a requests-per-minute limit.
type RateLimitedError struct {
	Limit      int    // requests per minute
	Per        string // "user" or "key"
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("more than %d AI requests a minute for this %s; retry in %s", e.Limit, e.Per, e.RetryAfter)
}

// MissingScopeError refuses an API key on an endpoint its scopes do not
// cover.
type MissingScopeError struct {
	Scope string
}

func (e *MissingScopeError) Error() string {
	return "the API key does not have the scope " + e.Scope
}
