// Package httpx is what handlers use to read requests and write answers:
// JSON in and out, paging parameters, the request id, and Abort, which
// hands an error to the HTTP layer's error table. It sits below every
// domain handler and below internal/httpapi, which imports them all.
package httpx

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// Abort records err for the error middleware and stops the handler chain.
// Handlers end with `httpx.Abort(c, err); return`; the error table
// (internal/httpapi/errors.go) decides what the client sees and what the
// log keeps.
func Abort(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}

// JSON writes v as the response body with the given status.
func JSON(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		Abort(c, fmt.Errorf("httpx: encode %T response: %w", v, err))
		return
	}
	c.Data(status, "application/json; charset=utf-8", body)
}

// Respond writes v with status, or aborts with err when it is not nil.
func Respond(c *gin.Context, status int, v any, err error) {
	if err != nil {
		Abort(c, err)
		return
	}
	JSON(c, status, v)
}

// Paging reads the limit and offset query parameters: limit defaults to def
// and may not exceed max; anything malformed is a validation error naming
// the parameter.
func Paging(c *gin.Context, def, max int) (limit, offset int, err error) {
	return ParsePaging(c.Query("limit"), c.Query("offset"), def, max)
}

// ParsePaging is Paging on the raw parameter values ("" for absent).
func ParsePaging(rawLimit, rawOffset string, def, max int) (limit, offset int, err error) {
	limit, offset = def, 0
	var fields model.Fields
	if rawLimit != "" {
		n, convErr := strconv.Atoi(rawLimit)
		if convErr != nil || n < 1 || n > max {
			fields.Add("limit", "must be a whole number from 1 to "+strconv.Itoa(max))
		}
		limit = n
	}
	if rawOffset != "" {
		n, convErr := strconv.Atoi(rawOffset)
		if convErr != nil || n < 0 {
			fields.Add("offset", "must be a whole number of at least 0")
		}
		offset = n
	}
	if err := fields.Err(); err != nil {
		return 0, 0, err
	}
	return limit, offset, nil
}

type requestIDKey struct{}

// WithRequestID stores a request's id in its context.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id stored by WithRequestID, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestIDOf returns the request id of a gin request, or "".
func RequestIDOf(c *gin.Context) string {
	if c.Request == nil {
		return ""
	}
	return RequestIDFrom(c.Request.Context())
}

type logUserKey struct{}

// SetLogUser names the authenticated user in the request's access log line.
// The auth middleware calls it once it knows who is calling.
func SetLogUser(c *gin.Context, userID string) { c.Set(logUserKey{}, userID) }

// LogUserOf returns the user SetLogUser named, if any.
func LogUserOf(c *gin.Context) (string, bool) {
	v, ok := c.Get(logUserKey{})
	s, _ := v.(string)
	return s, ok
}
