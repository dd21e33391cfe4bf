package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/openrouter"
	"github.com/duckgate/duckgate/shared/api"
)

func init() { gin.SetMode(gin.TestMode) }

// testServer is a gin engine with the middleware chain in the order the
// router uses, a JSON log captured in logs, and routes added by each test.
type testServer struct {
	engine *gin.Engine
	logs   *bytes.Buffer
}

func newTestServer(t *testing.T, extra ...gin.HandlerFunc) *testServer {
	t.Helper()
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(RequestID(), AccessLog(logger), Recovery(logger), SecurityHeaders(), Errors(logger))
	e.Use(extra...)
	e.NoRoute(NoRoute())
	e.NoMethod(NoMethod())
	return &testServer{engine: e, logs: logs}
}

func (s *testServer) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.engine.ServeHTTP(rec, req)
	return rec
}

// logRecords decodes every JSON log line written so far.
func (s *testServer) logRecords(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(s.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

func (s *testServer) findLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	for _, r := range s.logRecords(t) {
		if r["msg"] == msg {
			return r
		}
	}
	t.Fatalf("no log record %q in:\n%s", msg, s.logs.String())
	return nil
}

// decodeProblem checks a response is a problem detail with the given status.
func decodeProblemBody(t *testing.T, rec *httptest.ResponseRecorder, status int) api.Problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != api.ProblemContentType {
		t.Fatalf("Content-Type = %q, want %q", ct, api.ProblemContentType)
	}
	var p api.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %s: %v", rec.Body, err)
	}
	if p.Status != status || p.Title != http.StatusText(status) || p.Type == "" {
		t.Fatalf("problem = %+v, want status %d with title and type", p, status)
	}
	if p.RequestID == "" || p.RequestID != rec.Header().Get(RequestIDHeader) {
		t.Fatalf("problem request_id %q does not match header %q", p.RequestID, rec.Header().Get(RequestIDHeader))
	}
	return p
}

func TestErrorsRendersPublicProblem(t *testing.T) {
	s := newTestServer(t)
	s.engine.POST("/users", func(c *gin.Context) {
		httpx.Abort(c, fmt.Errorf("store: insert user: unique constraint users_email: %w", model.ErrEmailTaken))
	})

	rec := s.do(httptest.NewRequest(http.MethodPost, "/users", nil))

	p := decodeProblemBody(t, rec, http.StatusConflict)
	if p.Detail != "an account with this email already exists" || p.Type != api.TypeConflict {
		t.Errorf("problem = %+v", p)
	}
	if strings.Contains(rec.Body.String(), "unique constraint") {
		t.Errorf("private cause leaked to the client: %s", rec.Body)
	}
}

func TestErrorsHidesInternalCauseAndLogsIt(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/boom", func(c *gin.Context) {
		httpx.Abort(c, errors.New("store: select users: database is locked"))
	})

	rec := s.do(httptest.NewRequest(http.MethodGet, "/boom", nil))

	p := decodeProblemBody(t, rec, http.StatusInternalServerError)
	if p.Detail != internalProblem.Detail || strings.Contains(rec.Body.String(), "locked") {
		t.Errorf("internal error body = %s", rec.Body)
	}
	logged := s.findLog(t, "request failed")
	if logged["level"] != "ERROR" || !strings.Contains(logged["error"].(string), "database is locked") ||
		logged["request_id"] != p.RequestID || logged["route"] != "/boom" {
		t.Errorf("error log record = %v", logged)
	}
}

func TestErrorsSetsRetryAfter(t *testing.T) {
	s := newTestServer(t)
	limited := &model.LockedOutError{RetryAfter: 1500 * time.Millisecond}
	s.engine.POST("/auth/login", func(c *gin.Context) { httpx.Abort(c, limited) })

	rec := s.do(httptest.NewRequest(http.MethodPost, "/auth/login", nil))

	decodeProblemBody(t, rec, http.StatusTooManyRequests)
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (seconds, rounded up)", got)
	}
}

func TestErrorsChallengesOn401(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/users/me", func(c *gin.Context) { httpx.Abort(c, model.ErrTokenRequired) })

	cases := []struct{ authorization, want string }{
		{"", "Bearer"},
		{"Bearer eyJ.broken.token", `Bearer error="invalid_token"`},
		{"Basic dXNlcjpwYXNz", "Bearer"},
	}
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodGet, "/users/me", nil)
		if tc.authorization != "" {
			req.Header.Set("Authorization", tc.authorization)
		}
		rec := s.do(req)
		decodeProblemBody(t, rec, http.StatusUnauthorized)
		if got := rec.Header().Get("WWW-Authenticate"); got != tc.want {
			t.Errorf("Authorization %q: WWW-Authenticate = %q, want %q", tc.authorization, got, tc.want)
		}
	}
}

func TestErrorsKeepsResponseAlreadyWritten(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/stream", func(c *gin.Context) {
		c.String(http.StatusOK, "data: partial\n\n")
		_ = c.Error(errors.New("upstream: connection reset"))
	})

	rec := s.do(httptest.NewRequest(http.MethodGet, "/stream", nil))

	if rec.Code != http.StatusOK || rec.Body.String() != "data: partial\n\n" {
		t.Fatalf("streamed response was altered: %d %q", rec.Code, rec.Body)
	}
	logged := s.findLog(t, "request failed after the response began")
	if !strings.Contains(logged["error"].(string), "connection reset") {
		t.Errorf("log = %v", logged)
	}
}

func TestRecoveryTurnsPanicInto500(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/panic", func(c *gin.Context) { panic("secret internal state 42") })

	rec := s.do(httptest.NewRequest(http.MethodGet, "/panic", nil))

	decodeProblemBody(t, rec, http.StatusInternalServerError)
	if strings.Contains(rec.Body.String(), "secret internal state") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("panic details leaked: %s", rec.Body)
	}
	logged := s.findLog(t, "panic while handling request")
	if logged["panic"] != "secret internal state 42" || !strings.Contains(logged["stack"].(string), "errors_test.go") {
		t.Errorf("panic log = %v", logged)
	}
	access := s.findLog(t, "request")
	if access["status"] != float64(http.StatusInternalServerError) {
		t.Errorf("access log status = %v, want 500", access["status"])
	}
}

func TestNoRouteAndNoMethod(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/users/me", func(c *gin.Context) { c.Status(http.StatusOK) })

	rec := s.do(httptest.NewRequest(http.MethodGet, "/no/such/thing", nil))
	decodeProblemBody(t, rec, http.StatusNotFound)

	rec = s.do(httptest.NewRequest(http.MethodPatch, "/users/me", nil))
	decodeProblemBody(t, rec, http.StatusMethodNotAllowed)
	if allow := rec.Header().Get("Allow"); !strings.Contains(allow, http.MethodGet) {
		t.Errorf("Allow = %q, want it to name GET", allow)
	}
}

// TestErrorTable maps one error of every kind the table knows, wrapped as
// services wrap them, and checks what a client would see. Every row of the
// table must be exercised here.
func TestErrorTable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("service: doing something: %w", err) }
	cases := []struct {
		err        error
		status     int
		typ        string
		detail     string // a fragment of the detail
		retryAfter time.Duration
		fields     []api.FieldError
	}{
		{httpx.BadRequest("field \"x\" must be a string"), 400, api.TypeBadRequest, `field "x" must be a string`, 0, nil},
		{httpx.ErrUnsupportedMediaType, 415, api.TypeUnsupportedMedia, "application/json", 0, nil},
		{&httpx.TooLargeError{Limit: 1024}, 413, api.TypeTooLarge, "limit of 1024 bytes", 0, nil},
		{httpx.ErrNoRoute, 404, api.TypeNotFound, "no endpoint", 0, nil},
		{httpx.ErrMethodNotAllowed, 405, api.TypeMethodNotAllowed, "not allowed", 0, nil},
		{fmt.Errorf("%w: read tcp: i/o timeout", httpx.ErrBodyTimeout), 408, api.TypeRequestTimeout, "did not arrive in time", 0, nil},
		{wrap(model.Invalid(model.Field("email", "is required"), model.Field("password", "is too short"))), 422, api.TypeValidation,
			"invalid fields", 0, []api.FieldError{{Field: "email", Message: "is required"}, {Field: "password", Message: "is too short"}}},
		{model.ErrTokenRequired, 401, api.TypeUnauthorized, "access token is required", 0, nil},
		{wrap(model.ErrAccessTokenInvalid), 401, api.TypeUnauthorized, "invalid or expired", 0, nil},
		{model.ErrSessionEnded, 401, api.TypeUnauthorized, "session has ended", 0, nil},
		{model.ErrInvalidCredentials, 401, api.TypeUnauthorized, "invalid email or password", 0, nil},
		{wrap(model.ErrTokenInvalid), 401, api.TypeUnauthorized, "refresh token is invalid", 0, nil},
		{wrap(model.ErrTokenReused), 401, api.TypeUnauthorized, "refresh token is invalid", 0, nil},
		{&model.LockedOutError{RetryAfter: time.Minute}, 429, api.TypeRateLimited, "too many wrong passwords", time.Minute, nil},
		{model.ErrAdminOnly, 403, api.TypeForbidden, "admin role", 0, nil},
		{wrap(model.ErrAPIKeyInvalid), 401, api.TypeUnauthorized, "API key is invalid", 0, nil},
		{model.ErrKeyNotAllowed, 403, api.TypeForbidden, "API keys cannot be used here", 0, nil},
		{&model.MissingScopeError{Scope: "ai"}, 403, api.TypeForbidden, "scope ai", 0, nil},
		{wrap(model.ErrEmailTaken), 409, api.TypeConflict, "already exists", 0, nil},
		{model.ErrWrongPassword, 403, api.TypeForbidden, "current password is wrong", 0, nil},
		{model.ErrDeleteSelf, 409, api.TypeConflict, "your own account", 0, nil},
		{wrap(model.ErrLastAdmin), 409, api.TypeConflict, "without an admin", 0, nil},
		{model.ErrUserNotFound, 404, api.TypeNotFound, "no such user", 0, nil},
		{model.ErrSessionNotFound, 404, api.TypeNotFound, "no such session", 0, nil},
		{model.ErrLockoutNotFound, 404, api.TypeNotFound, "no such lock-out", 0, nil},
		{wrap(model.ErrAccountTokenInvalid), 400, api.TypeBadRequest, "ask for a new one", 0, nil},
		{model.ErrMailNotConfigured, 503, api.TypeUnavailable, "ask an administrator", 0, nil},
		{wrap(model.ErrAPIKeyNotFound), 404, api.TypeNotFound, "no such API key", 0, nil},
		{wrap(model.ErrTooManyKeys), 409, api.TypeConflict, "most API keys allowed (50)", 0, nil},
		{wrap(&model.BudgetExceededError{LimitUSD: 5, SpentUSD: 5.25, ResetsAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}),
			402, api.TypeBudgetExceeded, "budget of $5.00 is used up ($5.25 spent); it resets at 2026-02-01T00:00:00Z", 0, nil},
		{&model.RateLimitedError{Limit: 60, Per: "user", RetryAfter: 1500 * time.Millisecond}, 429, api.TypeRateLimited,
			"more than 60 AI requests a minute for this user", 1500 * time.Millisecond, nil},
		{model.ErrAINotConfigured, 503, api.TypeUnavailable, "OPENROUTER_API_KEY", 0, nil},
		{model.ErrVideoJobNotFound, 404, api.TypeNotFound, "no such video job", 0, nil},
		{&model.VideoNotReadyError{Status: "in_progress"}, 409, api.TypeConflict, "the job is in_progress", 0, nil},
		{wrap(model.ErrNoImage), 502, api.TypeUpstream, "without an image", 0, nil},
		{model.ErrConversationNotFound, 404, api.TypeNotFound, "no such conversation", 0, nil},
		{model.ErrMessageNotFound, 404, api.TypeNotFound, "no such message", 0, nil},
		{model.ErrImageNotFound, 404, api.TypeNotFound, "no such image", 0, nil},
		{model.ErrNothingToRegenerate, 409, api.TypeConflict, "no message to answer", 0, nil},
		{wrap(model.ErrConversationChanged), 409, api.TypeConflict, "changed meanwhile", 0, nil},
		{&model.ImageQuotaError{Used: 105 << 20, Quota: 100 << 20}, 409, api.TypeConflict, "105.0 MB of 100.0 MB used", 0, nil},
		{wrap(&openrouter.Error{Kind: openrouter.KindUpstream, Message: "the AI provider failed (status 500)"}), 502, api.TypeUpstream, "status 500", 0, nil},
		{&openrouter.Error{Kind: openrouter.KindRateLimited, Message: "rate limiting", RetryAfter: 7 * time.Second}, 429, api.TypeRateLimited, "rate limiting", 7 * time.Second, nil},
		{&openrouter.Error{Kind: openrouter.KindTimeout, Message: "timed out"}, 504, api.TypeUpstreamTimeout, "timed out", 0, nil},
		{&openrouter.Error{Kind: openrouter.KindBadRequest, Message: "rejected: no such model"}, 422, api.TypeValidation, "no such model", 0, nil},
		{&openrouter.Error{Kind: openrouter.KindCanceled, Message: "canceled"}, openrouter.StatusClientClosed, api.TypeInternal, "canceled", 0, nil},
		{wrap(model.ErrBackupUnsupported), 501, api.TypeNotImplemented, "pg_dump", 0, nil},
		{wrap(model.ErrNotFound), 404, api.TypeNotFound, "no such resource", 0, nil},
		{model.ErrClosed, 503, api.TypeUnavailable, "shutting down", 0, nil},
		{errors.New("store: disk I/O error at /var/lib/secret"), 500, api.TypeInternal, "request id", 0, nil},
	}
	hit := make([]bool, len(errorTable))
	for _, tc := range cases {
		p := ProblemFor(tc.err)
		if p.Status != tc.status || p.Type != tc.typ || !strings.Contains(p.Detail, tc.detail) || p.RetryAfter != tc.retryAfter ||
			fmt.Sprint(p.Fields) != fmt.Sprint(tc.fields) {
			t.Errorf("%v:\n got %+v\nwant status %d, type %s, detail containing %q, retry %v, fields %v",
				tc.err, p, tc.status, tc.typ, tc.detail, tc.retryAfter, tc.fields)
		}
		if strings.Contains(p.Detail, "service:") || strings.Contains(p.Detail, "/var/lib") {
			t.Errorf("%v: the private cause reached the detail: %q", tc.err, p.Detail)
		}
		for i, row := range errorTable {
			if _, ok := row(tc.err); ok {
				hit[i] = true
				break
			}
		}
	}
	for i, h := range hit {
		if !h {
			t.Errorf("row %d of the error table is not exercised by any case", i)
		}
	}
}

// TestOpenAIEnvelopeRendersTheSameTable: the /v1 renderer is the error
// table's second shape, so every error keeps its status, message and
// Retry-After; only the envelope changes.
func TestOpenAIEnvelopeRendersTheSameTable(t *testing.T) {
	for _, err := range []error{
		model.Invalid(model.Field("messages[0].role", "must be one of system, user"), model.Field("n", "only 1")),
		model.ErrAPIKeyInvalid,
		&model.BudgetExceededError{LimitUSD: 0},
		&model.RateLimitedError{Limit: 3, Per: "user", RetryAfter: 1500 * time.Millisecond},
		httpx.ErrNoRoute,
		&openrouter.Error{Kind: openrouter.KindTimeout, Message: "the AI provider timed out"},
		errors.New("store: secret path /var/lib/x"),
	} {
		p := ProblemFor(err)
		rec := httptest.NewRecorder()
		WriteOpenAIError(rec, httptest.NewRequest("POST", "/v1/chat/completions", nil), p)
		var body struct {
			Error *api.OpenAIError `json:"error"`
		}
		if e := json.Unmarshal(rec.Body.Bytes(), &body); e != nil || body.Error == nil {
			t.Fatalf("%v: not the envelope: %s", err, rec.Body)
		}
		got := body.Error
		if rec.Code != p.Status || !strings.HasPrefix(got.Message, p.Detail) || got.Type == "" || strings.Contains(got.Message, "/var/lib") {
			t.Errorf("%v: %d %+v, problem %+v", err, rec.Code, got, p)
		}
		if (p.RetryAfter > 0) != (rec.Header().Get("Retry-After") != "") {
			t.Errorf("%v: Retry-After %q for a problem retrying after %v", err, rec.Header().Get("Retry-After"), p.RetryAfter)
		}
		if len(p.Fields) > 0 && (got.Param == nil || *got.Param != p.Fields[0].Field || !strings.Contains(got.Message, "n only 1")) {
			t.Errorf("%v: param %v, message %q", err, got.Param, got.Message)
		}
	}
}
