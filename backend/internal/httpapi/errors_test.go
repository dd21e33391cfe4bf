package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/problem"
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
	conflict := problem.New(http.StatusConflict, "this email is taken")
	s.engine.POST("/users", func(c *gin.Context) {
		Abort(c, conflict.Wrap(errors.New("unique constraint users_email")))
	})

	rec := s.do(httptest.NewRequest(http.MethodPost, "/users", nil))

	p := decodeProblemBody(t, rec, http.StatusConflict)
	if p.Detail != "this email is taken" || p.Type != api.TypeConflict {
		t.Errorf("problem = %+v", p)
	}
	if strings.Contains(rec.Body.String(), "unique constraint") {
		t.Errorf("private cause leaked to the client: %s", rec.Body)
	}
}

func TestErrorsHidesInternalCauseAndLogsIt(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/boom", func(c *gin.Context) {
		Abort(c, errors.New("store: select users: database is locked"))
	})

	rec := s.do(httptest.NewRequest(http.MethodGet, "/boom", nil))

	p := decodeProblemBody(t, rec, http.StatusInternalServerError)
	if p.Detail != problem.ErrInternal.Detail || strings.Contains(rec.Body.String(), "locked") {
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
	limited := problem.New(http.StatusTooManyRequests, "slow down").WithRetryAfter(1500 * time.Millisecond)
	s.engine.POST("/auth/login", func(c *gin.Context) { Abort(c, limited) })

	rec := s.do(httptest.NewRequest(http.MethodPost, "/auth/login", nil))

	decodeProblemBody(t, rec, http.StatusTooManyRequests)
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (seconds, rounded up)", got)
	}
}

func TestErrorsChallengesOn401(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/users/me", func(c *gin.Context) { Abort(c, problem.ErrUnauthorized) })

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
