package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/problem"
	"github.com/duckgate/duckgate/shared/api"
)

// Abort records err for the Errors middleware and stops the handler chain.
// Handlers end with `httpapi.Abort(c, err); return`; the middleware decides
// what the client sees (problem.From) and what the log keeps (the cause).
func Abort(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}

// Errors is the one place where errors become responses. After the handlers
// ran, if one of them recorded an error (c.Error or Abort) and nothing was
// written yet, the last error is rendered as an RFC 9457 problem detail.
// Server-side failures (5xx) are logged here at error level with their
// private cause; client errors are visible in the access log line.
func Errors(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 {
			return
		}
		err := c.Errors.Last().Err
		pe := problem.From(err)
		if c.Writer.Written() {
			// A streaming handler failed after its first byte: the status is
			// gone, only the log can tell.
			logger.LogAttrs(c.Request.Context(), slog.LevelError, "request failed after the response began",
				requestAttrs(c, slog.String("error", err.Error()))...)
			return
		}
		if pe.Status >= http.StatusInternalServerError {
			logger.LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
				requestAttrs(c, slog.Int("status", pe.Status), slog.String("error", err.Error()))...)
		}
		writeProblem(c, pe)
	}
}

// Recovery turns a panic in a later handler into a 500 problem. The client
// sees only the generic internal error; the log gets the panic value and the
// stack. http.ErrAbortHandler is re-raised: it is net/http's way to abort a
// response on purpose.
func Recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			logger.LogAttrs(c.Request.Context(), slog.LevelError, "panic while handling request",
				requestAttrs(c, slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))...)
			c.Abort()
			if !c.Writer.Written() {
				writeProblem(c, problem.ErrInternal)
			}
		}()
		c.Next()
	}
}

// NoRoute answers paths the router does not know with a 404 problem.
func NoRoute() gin.HandlerFunc {
	notFound := problem.ErrNotFound.WithDetail("there is no endpoint at this path")
	return func(c *gin.Context) { Abort(c, notFound) }
}

// NoMethod answers a known path called with an unsupported method with a 405
// problem (gin has already set the Allow header).
func NoMethod() gin.HandlerFunc {
	return func(c *gin.Context) { Abort(c, problem.ErrMethodNotAllowed) }
}

// writeProblem renders pe as application/problem+json with the headers its
// status calls for.
func writeProblem(c *gin.Context, pe *problem.Error) {
	h := c.Writer.Header()
	if pe.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(pe.RetryAfter.Seconds()))))
	}
	if pe.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", wwwAuthenticate(c.Request))
	}
	body, err := json.Marshal(pe.Problem(RequestIDOf(c)))
	if err != nil { // cannot happen with the plain wire type; stay safe anyway
		body = []byte(`{"title":"Internal Server Error","status":500}`)
	}
	h.Set("Content-Type", api.ProblemContentType)
	c.Writer.WriteHeader(pe.Status)
	_, _ = c.Writer.Write(body)
}

// wwwAuthenticate builds the RFC 6750 challenge: a bare "Bearer" when no
// token was sent, with error="invalid_token" when one was sent and refused.
func wwwAuthenticate(r *http.Request) string {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if found && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != "" {
		return `Bearer error="invalid_token"`
	}
	return "Bearer"
}

// requestAttrs are the fields that tie a log record to its request.
func requestAttrs(c *gin.Context, extra ...slog.Attr) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("request_id", RequestIDOf(c)),
		slog.String("method", c.Request.Method),
		slog.String("route", routeOf(c)),
		slog.String("path", c.Request.URL.Path),
	}
	return append(attrs, extra...)
}

// UnmatchedRoute labels requests that matched no route, in logs and metrics:
// the raw path would let any client mint new label values.
const UnmatchedRoute = "unmatched"

// routeOf is the route template that matched (/users/:id), never the raw path.
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return UnmatchedRoute
}
