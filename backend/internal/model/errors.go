package model

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Domain errors. Stores and services return these (wrapped with context
// where it helps the logs); the HTTP layer's error table
// (internal/httpapi/errors.go) is the one place that decides what each one
// looks like to a client. Their texts are for logs and tests.

// Outcomes the store reports.
var (
	ErrNotFound       = errors.New("not found")
	ErrEmailTaken     = errors.New("an account with this email already exists")
	ErrLastAdmin      = errors.New("this would leave the system without an admin")
	ErrTokenInvalid   = errors.New("refresh token unknown, expired or revoked")
	ErrTokenReused    = errors.New("a rotated refresh token was presented again")
	ErrAccountChanged = errors.New("the account changed after its credentials were verified")
	ErrSchemaTooNew   = errors.New("the database schema is newer than this binary")
	ErrTooManyKeys    = errors.New("the user holds the most API keys allowed")
	ErrOverBudget     = errors.New("the call would start at or over the monthly budget")
	ErrClosed         = errors.New("the store is closed")
	// ErrBackupUnsupported: the engine's data is backed up with the
	// database's own tools (pg_dump for PostgreSQL), not by the backend.
	ErrBackupUnsupported = errors.New("this database engine is backed up with its own tools, not by the backend")
)

// Authentication and authorisation.
var (
	ErrInvalidCredentials = errors.New("invalid email or password")
	ErrTokenRequired      = errors.New("no bearer access token")
	ErrAccessTokenInvalid = errors.New("the access token is invalid or expired")
	ErrSessionEnded       = errors.New("the session has ended")
	ErrAdminOnly          = errors.New("this needs the admin role")
	ErrAPIKeyInvalid      = errors.New("the API key is unknown, expired or revoked")
	ErrKeyNotAllowed      = errors.New("API keys cannot be used on this endpoint")
)

// Account management.
var (
	ErrWrongPassword       = errors.New("the current password is wrong")
	ErrDeleteSelf          = errors.New("an admin cannot delete their own account")
	ErrUserNotFound        = errors.New("no such user")
	ErrSessionNotFound     = errors.New("no such session")
	ErrLockoutNotFound     = errors.New("no such lock-out")
	ErrAccountTokenInvalid = errors.New("the link is invalid, expired, already used or replaced by a newer one")
	ErrMailNotConfigured   = errors.New("mail is not configured: SMTP_URL is not set")
	ErrAPIKeyNotFound      = errors.New("no such API key")
)

// The AI gateway.
var (
	ErrAINotConfigured  = errors.New("AI is not configured: OPENROUTER_API_KEY is not set")
	ErrVideoJobNotFound = errors.New("no such video job")
	ErrNoImage          = errors.New("the AI provider answered without an image")
)

// The workspace.
var (
	ErrConversationNotFound = errors.New("no such conversation")
	ErrMessageNotFound      = errors.New("no such message")
	ErrImageNotFound        = errors.New("no such image")
	ErrNothingToRegenerate  = errors.New("the conversation has no answer to regenerate")
	ErrConversationChanged  = errors.New("the conversation changed meanwhile")
)

// ImageQuotaError refuses an image generation when the owner's stored
// images already take their quota.
type ImageQuotaError struct {
	Used, Quota int64
}

func (e *ImageQuotaError) Error() string {
	return fmt.Sprintf("image storage full: %d of %d bytes used", e.Used, e.Quota)
}

// LockedOutError refuses a sign-in after too many failures.
type LockedOutError struct {
	RetryAfter time.Duration
}

func (e *LockedOutError) Error() string {
	return fmt.Sprintf("too many wrong passwords; locked for %s", e.RetryAfter)
}

// VideoNotReadyError refuses the content of a job that has not completed.
type VideoNotReadyError struct {
	Status string
}

func (e *VideoNotReadyError) Error() string { return "the video is not ready: the job is " + e.Status }

// FieldError names one invalid field of a request and what is wrong with it.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError is a request whose fields break the rules.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return "invalid fields: " + strings.Join(parts, "; ")
}

// Invalid is a ValidationError of the given fields.
func Invalid(fields ...FieldError) *ValidationError { return &ValidationError{Fields: fields} }

// Field is a shorthand for one FieldError.
func Field(name, message string) FieldError { return FieldError{Field: name, Message: message} }

// Fields collects field errors while a request is checked; Err is nil when
// none were added.
type Fields []FieldError

// Add appends a field error.
func (f *Fields) Add(name, message string) {
	*f = append(*f, FieldError{Field: name, Message: message})
}

// Err is the ValidationError of the collected fields, or nil.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}
