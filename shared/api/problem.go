// Package api holds the request and response types of the backend's HTTP
// API. The backend encodes them, the frontend and integrators decode them
// (through package client), so both sides agree on every field by
// construction.
package api

import (
	"fmt"
	"strings"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem detail. It is also a Go error, so the typed
// client returns it as is and callers can inspect Status and Errors.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// RetryAfter is copied from the Retry-After header by the client (seconds);
	// it is not part of the JSON body.
	RetryAfter int `json:"-"`
}

// FieldError names one invalid field of a request (validation problems only).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", p.Status, p.Title)
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	for _, e := range p.Errors {
		fmt.Fprintf(&b, "; %s: %s", e.Field, e.Message)
	}
	return b.String()
}

// Problem type URIs. They are stable identifiers: clients may switch on them.
const (
	TypeBadRequest       = "https://duckgate.dev/problems/bad-request"
	TypeUnauthorized     = "https://duckgate.dev/problems/unauthorized"
	TypeForbidden        = "https://duckgate.dev/problems/forbidden"
	TypeNotFound         = "https://duckgate.dev/problems/not-found"
	TypeMethodNotAllowed = "https://duckgate.dev/problems/method-not-allowed"
	TypeRequestTimeout   = "https://duckgate.dev/problems/request-timeout"
	TypeConflict         = "https://duckgate.dev/problems/conflict"
	TypeTooLarge         = "https://duckgate.dev/problems/body-too-large"
	TypeUnsupportedMedia = "https://duckgate.dev/problems/unsupported-media-type"
	TypeValidation       = "https://duckgate.dev/problems/validation"
	TypeRateLimited      = "https://duckgate.dev/problems/rate-limited"
	TypeInternal         = "https://duckgate.dev/problems/internal"
	TypeUpstream         = "https://duckgate.dev/problems/upstream-failed"
	TypeUnavailable      = "https://duckgate.dev/problems/unavailable"
	TypeAINotConfigured  = "https://duckgate.dev/problems/ai-not-configured"
	TypeUpstreamTimeout  = "https://duckgate.dev/problems/upstream-timeout"
	TypeBudgetExceeded   = "https://duckgate.dev/problems/budget-exceeded"
	TypeNotImplemented   = "https://duckgate.dev/problems/not-implemented"
)
