package api

import "time"

// API key scopes.
const (
	ScopeAI   = "ai"   // models, chat, generation and the OpenAI-compatible /v1
	ScopeRead = "read" // the own profile (GET /users/me) and usage (GET /users/me/usage)
)

// APIKeyRequest is the body of POST /users/me/api-keys.
type APIKeyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// ExpiresAt ends the key; none: it lasts until revoked.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// RequestsPerMinute is the key's own limit of AI calls (at most the
	// account's); none: the account's limit.
	RequestsPerMinute *int `json:"requests_per_minute,omitempty"`
}

// APIKey describes a key without its secret.
type APIKey struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// UserEmail is filled in admin listings.
	UserEmail         string     `json:"user_email,omitempty"`
	Name              string     `json:"name"`
	Prefix            string     `json:"prefix"`
	Scopes            []string   `json:"scopes"`
	RequestsPerMinute int        `json:"requests_per_minute,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
	Expired           bool       `json:"expired"`
	LastUsedAt        *time.Time `json:"last_used_at,omitempty"`
	LastUsedIP        string     `json:"last_used_ip,omitempty"`
}

// NewAPIKey is the answer of POST /users/me/api-keys: the key and, this
// once, its secret.
type NewAPIKey struct {
	APIKey
	Secret string `json:"secret"`
}

// APIKeyList is a page of keys, newest first.
type APIKeyList struct {
	Items []APIKey `json:"items"`
	Total int      `json:"total"`
}

// UsageGroup is one day or one model of GET /users/me/usage.
type UsageGroup struct {
	Key              string  `json:"key"` // YYYY-MM-DD (UTC) or a model id
	Requests         int     `json:"requests"`
	Errors           int     `json:"errors"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	Cost             float64 `json:"cost"` // USD
}

// Budget is a user's monthly AI spending limit and where it stands.
type Budget struct {
	// LimitUSD is the limit in force; absent when there is none.
	LimitUSD *float64 `json:"limit_usd,omitempty"`
	// Override is the admin's per-user limit (absent: the default applies).
	Override *float64 `json:"override_usd,omitempty"`
	// DefaultUSD is AI_MONTHLY_BUDGET_USD (absent: no default limit).
	DefaultUSD *float64 `json:"default_usd,omitempty"`
	// SpentUSD is this calendar month's cost so far; ReservedUSD the
	// estimates of calls in flight.
	SpentUSD    float64   `json:"spent_usd"`
	ReservedUSD float64   `json:"reserved_usd"`
	ResetsAt    time.Time `json:"resets_at"`
}

// UserUsage is the body of GET /users/me/usage: spend and tokens by day
// and by model over [from, to), and the month's budget.
type UserUsage struct {
	From             time.Time    `json:"from"`
	To               time.Time    `json:"to"`
	Requests         int          `json:"requests"`
	PromptTokens     int          `json:"prompt_tokens"`
	CompletionTokens int          `json:"completion_tokens"`
	Cost             float64      `json:"cost"`
	ByDay            []UsageGroup `json:"by_day"`
	ByModel          []UsageGroup `json:"by_model"`
	Budget           Budget       `json:"budget"`
}

// BudgetRequest is the body of PUT /users/{id}/budget: the user's monthly
// limit in USD (0: no AI), or null to apply the default again.
type BudgetRequest struct {
	MonthlyUSD *float64 `json:"monthly_usd"`
}

// Audit actions of API keys and budgets.
const (
	AuditKeyCreated      = "user.api_key_created"
	AuditKeyRevoked      = "user.api_key_revoked"
	AuditAdminKeyRevoked = "admin.api_key_revoked"
	AuditBudgetSet       = "admin.budget_set"
)
