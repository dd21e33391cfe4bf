// Package httpapi is the HTTP edge of the backend: the gin middleware every
// request passes (request id, access log, metrics, panics, errors, CORS,
// body limits, security headers) and the helpers handlers use to read JSON
// and write JSON. Each middleware is built by a constructor from its
// parameters; nothing here keeps package-level state.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/problem"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

// maxRequestIDLen bounds an id taken from a client, so logs stay readable.
const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID gives every request an id: the client's X-Request-ID when it is
// sane (at most 128 visible ASCII characters), a new UUIDv7 otherwise. The id
// is sent back on the response and stored in the request context.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey{}, id))
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

// RequestIDFrom returns the request id stored by RequestID, or "".
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

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func newRequestID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString() // v4; NewV7 fails only if the random source does
}

type logUserKey struct{}

// SetLogUser names the authenticated user in the request's access log line.
// The auth middleware calls it once it knows who is calling.
func SetLogUser(c *gin.Context, userID string) {
	c.Set(logUserKey{}, userID)
}

// AccessLog writes one JSON record per request after it finished: info for
// success, warn for client errors, error for server errors. It logs the path
// without its query (queries may carry secrets) and never headers or bodies.
func AccessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("route", routeOf(c)),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", RequestIDOf(c)),
			slog.String("client_ip", c.ClientIP()),
		}
		if user, ok := c.Get(logUserKey{}); ok {
			attrs = append(attrs, slog.Any("user_id", user))
		}
		if len(c.Errors) > 0 {
			attrs = append(attrs, slog.String("error", c.Errors.Last().Err.Error()))
		}
		logger.LogAttrs(c.Request.Context(), levelFor(status), "request", attrs...)
	}
}

func levelFor(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// BodyLimit caps request bodies at defaultMax bytes, or at what override
// returns for a route when it returns more than zero (override may be nil).
// It runs after routing, so override can look at c.FullPath(). A declared
// Content-Length above the limit is refused with 413 at once; a body that
// grows past it while being read makes BindJSON answer 413.
func BodyLimit(defaultMax int64, override func(c *gin.Context) int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := defaultMax
		if override != nil {
			if n := override(c); n > 0 {
				limit = n
			}
		}
		if c.Request.ContentLength > limit {
			Abort(c, problem.ErrTooLarge.WithDetail(tooLargeDetail(limit)))
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// RouteLimits is an override for BodyLimit from a table of route templates
// (as gin writes them: /generate/video/from-image) to limits.
func RouteLimits(limits map[string]int64) func(c *gin.Context) int64 {
	return func(c *gin.Context) int64 { return limits[c.FullPath()] }
}

func tooLargeDetail(limit int64) string {
	return fmt.Sprintf("the request body is larger than the limit of %d bytes", limit)
}

// BindJSON decodes the JSON request body into dst. Unknown fields are ignored
// (older clients keep working when fields are added), but anything after the
// JSON value is refused. Every failure is a *problem.Error: 415 for another
// content type, 413 for a body over the limit, 400 for an empty, truncated or
// malformed body or a value of the wrong type (naming the field).
func BindJSON(c *gin.Context, dst any) error {
	if !isJSONContentType(c.GetHeader("Content-Type")) {
		return problem.ErrMediaType
	}
	if c.Request.Body == nil {
		return problem.ErrBadJSON.WithDetail("the request body is empty")
	}
	dec := json.NewDecoder(c.Request.Body)
	if err := dec.Decode(dst); err != nil {
		return decodeProblem(err)
	}
	var trailing json.RawMessage
	switch err := dec.Decode(&trailing); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return problem.ErrBadJSON.WithDetail("the request body holds more than one JSON value")
	default:
		return decodeProblem(err)
	}
}

func isJSONContentType(header string) bool {
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil || mediaType != "application/json" {
		return false
	}
	charset, ok := params["charset"]
	return !ok || strings.EqualFold(charset, "utf-8")
}

// decodeProblem explains a json.Decoder failure to the client.
func decodeProblem(err error) *problem.Error {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return problem.ErrTooLarge.WithDetail(tooLargeDetail(tooLarge.Limit)).Wrap(err)
	case errors.Is(err, io.EOF):
		return problem.ErrBadJSON.WithDetail("the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.ErrBadJSON.WithDetail("the request body ends in the middle of a JSON value")
	case errors.As(err, &syntax):
		return problem.ErrBadJSON.WithDetail(
			fmt.Sprintf("the request body is not valid JSON (at byte %d): %s", syntax.Offset, syntax.Error()))
	case errors.As(err, &wrongType):
		if wrongType.Field == "" {
			return problem.ErrBadJSON.WithDetail(
				fmt.Sprintf("the request body must be %s, not %s", jsonKind(wrongType.Type.Kind().String()), wrongType.Value))
		}
		return problem.ErrBadJSON.WithDetail(
			fmt.Sprintf("field %q must be %s, not %s", wrongType.Field, jsonKind(wrongType.Type.Kind().String()), wrongType.Value))
	}
	return problem.ErrBadJSON.Wrap(err)
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "another type"
}

// JSON writes v as the response body with the given status.
func JSON(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		Abort(c, fmt.Errorf("httpapi: encode %T response: %w", v, err))
		return
	}
	c.Data(status, "application/json; charset=utf-8", body)
}

// CORS lets the listed browser origins call the API. With an empty list it
// does nothing at all: no CORS header is ever sent. Origins match exactly
// (scheme, host and port, as browsers send them); "*" in the list allows any
// origin. Bearer tokens, not cookies, authenticate, so credentials are not
// allowed. A preflight from an allowed origin is answered with 204 here.
func CORS(origins []string) gin.HandlerFunc {
	allowed := slices.Clone(origins)
	anyOrigin := slices.Contains(allowed, "*")
	return func(c *gin.Context) {
		if len(allowed) == 0 {
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		origin := c.GetHeader("Origin")
		if origin == "" || !(anyOrigin || slices.Contains(allowed, origin)) {
			c.Next()
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID")
			h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", "X-Request-ID, Retry-After, WWW-Authenticate")
		c.Next()
	}
}

// corsMaxAge is how long browsers may cache a preflight answer (seconds);
// Chromium caps it at two hours.
const corsMaxAge = 7200

// SecurityHeaders sets the headers every API response should carry:
//   - X-Content-Type-Options: nosniff, so a JSON body is never run as script;
//   - Cache-Control: no-store, because API answers are per-user and may hold
//     tokens (handlers of public, cacheable content such as /docs assets or
//     the JWKS set their own Cache-Control, which replaces this default);
//   - a Content-Security-Policy that forbids everything and framing, since
//     API responses are data, not pages (the /docs page sets its own);
//   - Referrer-Policy: no-referrer.
func SecurityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		c.Next()
	}
}
