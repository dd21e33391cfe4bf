// Package httpapi is the HTTP edge of the backend: THE route table
// (routes.go: every endpoint with its handler, who may call it, its body
// limit and its OpenAPI facts), THE error table (errors.go: every error to
// its problem detail), the router built from them, and the middleware every
// request passes (request id, access log, metrics, panics, errors, CORS,
// body limits, security headers). Each middleware is built by a
// constructor from its parameters; nothing here keeps package-level state.
package httpapi

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/httpx"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

// maxRequestIDLen bounds an id taken from a client, so logs stay readable.
const maxRequestIDLen = 128

// RequestID gives every request an id: the client's X-Request-ID when it is
// sane (at most 128 visible ASCII characters), a new UUIDv7 otherwise. The id
// is sent back on the response and stored in the request context.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Request = c.Request.WithContext(httpx.WithRequestID(c.Request.Context(), id))
		c.Header(RequestIDHeader, id)
		c.Next()
	}
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
			slog.String("request_id", httpx.RequestIDOf(c)),
			slog.String("client_ip", c.ClientIP()),
		}
		if user, ok := httpx.LogUserOf(c); ok {
			attrs = append(attrs, slog.String("user_id", user))
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

// BodyLimit caps a route's request bodies at limit bytes and bounds the
// time to read them. A declared Content-Length above the limit is refused
// with 413 at once; a body that grows past it while being read makes
// httpx.BindJSON answer 413. A body must arrive within readTimeout plus a
// second per 64 KiB (a slow link still uploads a large image; a client
// trickling bytes to hold a connection does not get to); BindJSON lifts
// the deadline once the body is read, so a streamed answer is not cut.
func BodyLimit(limit int64, readTimeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			httpx.Abort(c, &httpx.TooLargeError{Limit: limit})
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			size := c.Request.ContentLength
			if size < 0 {
				size = limit
			}
			if readTimeout > 0 {
				deadline := time.Now().Add(readTimeout + time.Duration(size>>16)*time.Second)
				_ = http.NewResponseController(c.Writer).SetReadDeadline(deadline)
			}
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
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
