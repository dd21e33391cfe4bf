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
	"time"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/openrouter"
	"github.com/duckgate/duckgate/shared/api"
)

// Problem is what a client is told about a failed request (RFC 9457). The
// error that caused it stays in the logs.
type Problem struct {
	Status     int
	Type       string // api.Type*; from the status when empty
	Detail     string
	Fields     []api.FieldError
	RetryAfter time.Duration
}

// errorTable is THE mapping from errors to problems: every error a handler,
// service, store or the upstream client can return is matched here, in
// order, the first match winning. An error no row matches is a fault of
// ours: 500, with the cause logged and never sent.
var errorTable = []errorRow{
	// Reading the request.
	as(func(e *httpx.BadRequestError) Problem { return Problem{Status: 400, Detail: e.Detail} }),
	is(httpx.ErrUnsupportedMediaType, 415, "send the body as application/json"),
	as(func(e *httpx.TooLargeError) Problem { return Problem{Status: 413, Detail: e.Error()} }),
	is(httpx.ErrNoRoute, 404, "there is no endpoint at this path"),
	is(httpx.ErrMethodNotAllowed, 405, "this method is not allowed on this path"),
	is(httpx.ErrBodyTimeout, 408, "the request body did not arrive in time; send it at once"),
	as(func(e *model.ValidationError) Problem {
		fields := make([]api.FieldError, len(e.Fields))
		for i, f := range e.Fields {
			fields[i] = api.FieldError{Field: f.Field, Message: f.Message}
		}
		return Problem{Status: 422, Type: api.TypeValidation, Detail: "the request has invalid fields", Fields: fields}
	}),

	// Who is calling.
	is(model.ErrTokenRequired, 401, "a valid access token is required"),
	is(model.ErrAccessTokenInvalid, 401, "the access token is invalid or expired"),
	is(model.ErrSessionEnded, 401, "the session has ended; sign in again"),
	is(model.ErrInvalidCredentials, 401, "invalid email or password"),
	is(model.ErrTokenInvalid, 401, "the refresh token is invalid, expired or revoked; sign in again"),
	is(model.ErrTokenReused, 401, "the refresh token is invalid, expired or revoked; sign in again"),
	as(func(e *model.LockedOutError) Problem {
		return Problem{Status: 429, Detail: "too many wrong passwords; try again later", RetryAfter: e.RetryAfter}
	}),
	is(model.ErrAdminOnly, 403, "this needs the admin role"),
	is(model.ErrAPIKeyInvalid, 401, "the API key is invalid, expired or revoked"),
	is(model.ErrKeyNotAllowed, 403, "API keys cannot be used here: account management and admin endpoints need a signed-in user's access token"),
	as(func(e *model.MissingScopeError) Problem {
		return Problem{Status: 403, Detail: "this API key does not have the scope " + e.Scope + "; create a key with it"}
	}),

	// Accounts.
	is(model.ErrEmailTaken, 409, "an account with this email already exists"),
	is(model.ErrWrongPassword, 403, "the current password is wrong"),
	is(model.ErrDeleteSelf, 409, "you cannot delete your own account here; ask another admin"),
	is(model.ErrLastAdmin, 409, "this would leave the system without an admin"),
	is(model.ErrUserNotFound, 404, "no such user"),
	is(model.ErrSessionNotFound, 404, "no such session"),
	is(model.ErrLockoutNotFound, 404, "no such lock-out: it ended or was lifted"),
	is(model.ErrAccountTokenInvalid, 400, "this link is invalid, has expired, was already used, or was replaced by a newer one; ask for a new one"),
	is(model.ErrMailNotConfigured, 503, "password recovery by mail is not available on this server; ask an administrator for a reset link"),
	is(model.ErrAPIKeyNotFound, 404, "no such API key"),
	is(model.ErrTooManyKeys, 409, fmt.Sprintf("you hold the most API keys allowed (%d); revoke one first", model.MaxAPIKeysPerUser)),

	// The AI gateway.
	as(func(e *model.BudgetExceededError) Problem {
		return Problem{Status: http.StatusPaymentRequired, Type: api.TypeBudgetExceeded, Detail: e.Error()}
	}),
	as(func(e *model.RateLimitedError) Problem {
		return Problem{Status: http.StatusTooManyRequests, Detail: e.Error(), RetryAfter: e.RetryAfter}
	}),
	is(model.ErrAINotConfigured, 503, "AI is not configured on this server: the operator must set OPENROUTER_API_KEY "+
		"(and OPENROUTER_BASE_URL for another endpoint) and restart the backend"),
	is(model.ErrVideoJobNotFound, 404, "no such video job"),
	as(func(e *model.VideoNotReadyError) Problem {
		return Problem{Status: 409, Detail: "the video is not ready: the job is " + e.Status}
	}),
	is(model.ErrNoImage, 502, "the AI provider answered without an image"),

	// The workspace.
	is(model.ErrConversationNotFound, 404, "no such conversation"),
	is(model.ErrMessageNotFound, 404, "no such message of yours in this conversation"),
	is(model.ErrImageNotFound, 404, "no such image"),
	is(model.ErrNothingToRegenerate, 409, "the conversation has no message to answer yet"),
	is(model.ErrConversationChanged, 409, "the conversation changed meanwhile (another tab or device?); reload it and try again"),
	as(func(e *model.ImageQuotaError) Problem {
		return Problem{Status: 409, Detail: fmt.Sprintf("your image storage is full (%s of %s used); delete images you no longer need",
			megabytes(e.Used), megabytes(e.Quota))}
	}),
	as(upstreamProblem),

	// Operations.
	is(model.ErrBackupUnsupported, 501, "this backend runs on PostgreSQL, which the backend does not back up: "+
		"use the database's own tools (pg_dump, pg_restore); see the README's \"Outgrowing one machine\""),

	// Anything the store could not find that no service named more precisely.
	is(model.ErrNotFound, 404, "no such resource"),
	is(model.ErrClosed, 503, "the service is shutting down; retry in a moment"),
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// internalProblem answers every error the table does not know.
var internalProblem = Problem{Status: 500, Detail: "something went wrong on our side; the request id identifies it in the logs"}

// upstreamProblem is how a failure of the AI provider reaches our clients:
// its kind picks the status, its message is already safe to show.
func upstreamProblem(e *openrouter.Error) Problem {
	p := Problem{Status: http.StatusBadGateway, Detail: e.Message}
	switch e.Kind {
	case openrouter.KindRateLimited:
		p.Status, p.RetryAfter = http.StatusTooManyRequests, e.RetryAfter
	case openrouter.KindTimeout:
		p.Status = http.StatusGatewayTimeout
	case openrouter.KindBadRequest:
		p.Status = http.StatusUnprocessableEntity
	case openrouter.KindCanceled:
		p.Status = openrouter.StatusClientClosed
	}
	return p
}

// ProblemFor is the problem a client sees for err.
func ProblemFor(err error) Problem {
	for _, row := range errorTable {
		if p, ok := row(err); ok {
			if p.Type == "" {
				p.Type = typeFor(p.Status)
			}
			return p
		}
	}
	p := internalProblem
	p.Type = typeFor(p.Status)
	return p
}

// Describe is the status and public detail ProblemFor(err) answers: what
// usage records keep of a failure and what a stream's error event says.
func Describe(err error) (status int, detail string) {
	p := ProblemFor(err)
	return p.Status, p.Detail
}

// errorRow matches an error and says what the client sees.
type errorRow func(err error) (Problem, bool)

// is matches err itself or anything wrapping it.
func is(target error, status int, detail string) errorRow {
	return func(err error) (Problem, bool) {
		if errors.Is(err, target) {
			return Problem{Status: status, Detail: detail}, true
		}
		return Problem{}, false
	}
}

// as matches errors of type T (or wrapping one) and builds the problem
// from the fields T carries.
func as[T error](fn func(T) Problem) errorRow {
	return func(err error) (Problem, bool) {
		if t, ok := errors.AsType[T](err); ok {
			return fn(t), true
		}
		return Problem{}, false
	}
}

func typeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return api.TypeBadRequest
	case http.StatusPaymentRequired:
		return api.TypeBudgetExceeded
	case http.StatusUnauthorized:
		return api.TypeUnauthorized
	case http.StatusForbidden:
		return api.TypeForbidden
	case http.StatusNotFound:
		return api.TypeNotFound
	case http.StatusMethodNotAllowed:
		return api.TypeMethodNotAllowed
	case http.StatusRequestTimeout:
		return api.TypeRequestTimeout
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
	case http.StatusNotImplemented:
		return api.TypeNotImplemented
	}
	return api.TypeInternal
}

// Errors is the one place where errors become responses. After the handlers
// ran, if one of them recorded an error (c.Error or httpx.Abort) and nothing
// was written yet, the last error is rendered through the error table.
// Server-side failures (5xx) are logged here at error level with their
// private cause; client errors are visible in the access log line.
func Errors(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 {
			return
		}
		err := c.Errors.Last().Err
		if c.Writer.Written() {
			// A streaming handler failed after its first byte: the status is
			// gone, only the log can tell.
			logger.LogAttrs(c.Request.Context(), slog.LevelError, "request failed after the response began",
				requestAttrs(c, slog.String("error", err.Error()))...)
			return
		}
		p := ProblemFor(err)
		if p.Status >= http.StatusInternalServerError {
			logger.LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
				requestAttrs(c, slog.Int("status", p.Status), slog.String("error", err.Error()))...)
		}
		writeFailure(c, p)
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
				writeFailure(c, ProblemFor(nil))
			}
		}()
		c.Next()
	}
}

// NoRoute answers paths the router does not know with a 404 problem.
func NoRoute() gin.HandlerFunc {
	return func(c *gin.Context) { httpx.Abort(c, httpx.ErrNoRoute) }
}

// NoMethod answers a known path called with an unsupported method with a 405
// problem (gin has already set the Allow header).
func NoMethod() gin.HandlerFunc {
	return func(c *gin.Context) { httpx.Abort(c, httpx.ErrMethodNotAllowed) }
}

// WriteProblem renders p as application/problem+json with the headers its
// status calls for.
func WriteProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	h := w.Header()
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(p.RetryAfter.Seconds()))))
	}
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", wwwAuthenticate(r))
	}
	if p.Type == "" {
		p.Type = typeFor(p.Status)
	}
	body, err := json.Marshal(api.Problem{Type: p.Type, Title: http.StatusText(p.Status), Status: p.Status,
		Detail: p.Detail, RequestID: httpx.RequestIDFrom(r.Context()), Errors: p.Fields})
	if err != nil { // cannot happen with the plain wire type; stay safe anyway
		body = []byte(`{"title":"Internal Server Error","status":500}`)
	}
	h.Set("Content-Type", api.ProblemContentType)
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
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
		slog.String("request_id", httpx.RequestIDOf(c)),
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
