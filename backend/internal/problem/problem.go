// Package problem is the one error type that reaches HTTP clients. Domain
// packages declare their public failures as *Error values (with the status
// the contract gives them); anything else is an internal error whose cause is
// logged and never sent. The httpapi error middleware renders both as RFC
// 9457 problem details, so the mapping happens once, at the edge.
package problem

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// Error is a failure with a public face: a status, a stable type URI and a
// message safe to show. Cause is the private reason, for logs only.
type Error struct {
	Status     int
	Type       string
	Detail     string
	Fields     []api.FieldError
	RetryAfter time.Duration
	Cause      error
}

func (e *Error) Error() string {
	msg := strconv.Itoa(e.Status) + " " + e.Detail
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Cause }

// Is makes errors.Is(err, sentinel) true for copies made by Wrap and With.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && t.Type == e.Type && t.Detail == e.Detail
}

// New declares a public failure. The type URI follows from the status.
func New(status int, detail string) *Error {
	return &Error{Status: status, Type: typeFor(status), Detail: detail}
}

// Wrap returns a copy of e that remembers cause (for logs).
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// WithDetail returns a copy of e with another public message.
func (e *Error) WithDetail(detail string) *Error {
	c := *e
	c.Detail = detail
	return &c
}

// WithType returns a copy of e with another type URI.
func (e *Error) WithType(typ string) *Error {
	c := *e
	c.Type = typ
	return &c
}

// WithRetryAfter returns a copy of e that tells clients when to retry.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

// Title is the short, status-derived summary of the problem.
func (e *Error) Title() string { return http.StatusText(e.Status) }

// Validation is a 422 naming the invalid fields.
func Validation(fields ...api.FieldError) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Type: api.TypeValidation,
		Detail: "the request has invalid fields", Fields: fields}
}

// Field is a shorthand for one api.FieldError.
func Field(name, message string) api.FieldError {
	return api.FieldError{Field: name, Message: message}
}

// Common public failures.
var (
	ErrBadJSON          = New(http.StatusBadRequest, "the request body is not valid JSON")
	ErrUnauthorized     = New(http.StatusUnauthorized, "a valid access token is required")
	ErrForbidden        = New(http.StatusForbidden, "you are not allowed to do this")
	ErrNotFound         = New(http.StatusNotFound, "no such resource")
	ErrTooLarge         = New(http.StatusRequestEntityTooLarge, "the request body is too large")
	ErrMediaType        = New(http.StatusUnsupportedMediaType, "send the body as application/json")
	ErrUnavailable      = New(http.StatusServiceUnavailable, "the service is temporarily unavailable")
	ErrInternal         = New(http.StatusInternalServerError, "something went wrong on our side; the request id identifies it in the logs")
	ErrMethodNotAllowed = New(http.StatusMethodNotAllowed, "this method is not allowed on this path")
)

// From returns the public face of err: err itself when it is (or wraps) an
// *Error, ErrInternal wrapping it otherwise.
func From(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return ErrInternal.Wrap(err)
}

// Problem converts e to the wire type.
func (e *Error) Problem(requestID string) *api.Problem {
	return &api.Problem{
		Type:      e.Type,
		Title:     e.Title(),
		Status:    e.Status,
		Detail:    e.Detail,
		RequestID: requestID,
		Errors:    e.Fields,
	}
}

func typeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return api.TypeBadRequest
	case http.StatusUnauthorized:
		return api.TypeUnauthorized
	case http.StatusForbidden:
		return api.TypeForbidden
	case http.StatusNotFound:
		return api.TypeNotFound
	case http.StatusMethodNotAllowed:
		return api.TypeMethodNotAllowed
	case http.StatusConflict:
		return api.TypeConflict
	case http.StatusRequestEntityTooLarge:
		return api.TypeTooLarge
	case http.StatusUnsupportedMediaType:
		return api.TypeUnsupportedMedia
	case http.StatusUnprocessableEntity:
		return api.TypeValidation
	case http.StatusTooManyRequests:
		return api.TypeRateLimited
	case http.StatusBadGateway:
		return api.TypeUpstream
	case http.StatusServiceUnavailable:
		return api.TypeUnavailable
	case http.StatusGatewayTimeout:
		return api.TypeUpstreamTimeout
	}
	return api.TypeInternal
}
