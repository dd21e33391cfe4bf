package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

func TestRequestIDTakenFromSaneRequestHeader(t *testing.T) {
	s := newTestServer(t)
	var fromContext, fromGin string
	s.engine.GET("/x", func(c *gin.Context) {
		fromContext = httpx.RequestIDFrom(c.Request.Context())
		fromGin = httpx.RequestIDOf(c)
		c.Status(http.StatusNoContent)
	})

	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set(RequestIDHeader, "client-trace-123")
	rec := s.do(req)

	if got := rec.Header().Get(RequestIDHeader); got != "client-trace-123" {
		t.Errorf("response X-Request-ID = %q, want the client's", got)
	}
	if fromContext != "client-trace-123" || fromGin != "client-trace-123" {
		t.Errorf("handler saw %q / %q", fromContext, fromGin)
	}
}

func TestRequestIDGeneratedWhenMissingOrInsane(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })

	for name, header := range map[string]string{
		"missing":   "",
		"too long":  strings.Repeat("a", 129),
		"space":     "two words",
		"non-ascii": "idé",
		"control":   "a\tb",
	} {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		if header != "" {
			req.Header.Set(RequestIDHeader, header)
		}
		got := s.do(req).Header().Get(RequestIDHeader)
		id, err := uuid.Parse(got)
		if err != nil || id.Version() != 7 {
			t.Errorf("%s: X-Request-ID = %q, want a fresh UUIDv7", name, got)
		}
	}
	// Two requests never share a generated id.
	a := s.do(httptest.NewRequest(http.MethodGet, "/x", nil)).Header().Get(RequestIDHeader)
	b := s.do(httptest.NewRequest(http.MethodGet, "/x", nil)).Header().Get(RequestIDHeader)
	if a == b {
		t.Errorf("two requests got the same id %q", a)
	}
}

func TestAccessLogLine(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/users/:id", func(c *gin.Context) {
		httpx.SetLogUser(c, "user-7")
		httpx.JSON(c, http.StatusOK, map[string]string{"id": c.Param("id")})
	})

	req := httptest.NewRequest(http.MethodGet, "/users/0192?access_token=SECRET", nil)
	req.Header.Set("Authorization", "Bearer TOKENVALUE")
	req.Header.Set(RequestIDHeader, "rid-1")
	req.RemoteAddr = "192.0.2.10:5555"
	rec := s.do(req)

	line := s.findLog(t, "request")
	want := map[string]any{
		"level": "INFO", "method": "GET", "route": "/users/:id", "path": "/users/0192",
		"status": float64(200), "bytes": float64(rec.Body.Len()), "request_id": "rid-1",
		"client_ip": "192.0.2.10", "user_id": "user-7",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("log has no numeric duration_ms: %v", line)
	}
	if raw := s.logs.String(); strings.Contains(raw, "SECRET") || strings.Contains(raw, "TOKENVALUE") {
		t.Errorf("log holds a secret: %s", raw)
	}
}

func TestAccessLogLevelAndCauseForClientErrors(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/missing", func(c *gin.Context) {
		httpx.Abort(c, errNotFoundWithCause())
	})

	s.do(httptest.NewRequest(http.MethodGet, "/missing", nil))

	line := s.findLog(t, "request")
	if line["level"] != "WARN" || !strings.Contains(line["error"].(string), "no row for id 9") {
		t.Errorf("access log for a 404 = %v", line)
	}
	for _, r := range s.logRecords(t) {
		if r["msg"] == "request failed" {
			t.Errorf("client error logged as a server failure: %v", r)
		}
	}
}

func TestJSONHelper(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/j", func(c *gin.Context) { httpx.JSON(c, http.StatusCreated, api.User{ID: "u1", Email: "a@b.c"}) })
	s.engine.GET("/bad", func(c *gin.Context) { httpx.JSON(c, http.StatusOK, map[string]any{"f": func() {}}) })

	rec := s.do(httptest.NewRequest(http.MethodGet, "/j", nil))
	if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("JSON wrote %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var u api.User
	if err := json.Unmarshal(rec.Body.Bytes(), &u); err != nil || u.Email != "a@b.c" {
		t.Errorf("body %s: %v", rec.Body, err)
	}

	decodeProblemBody(t, s.do(httptest.NewRequest(http.MethodGet, "/bad", nil)), http.StatusInternalServerError)
}

// bindServer has POST /bind (default limit 64 bytes) and POST /big (1 KiB)
// decoding an api.RegisterRequest and echoing it.
func bindServer(t *testing.T) *testServer {
	t.Helper()
	s := newTestServer(t)
	echo := func(c *gin.Context) {
		var req api.RegisterRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			httpx.Abort(c, err)
			return
		}
		httpx.JSON(c, http.StatusOK, req)
	}
	s.engine.POST("/bind", BodyLimit(64, 0), echo)
	s.engine.POST("/big", BodyLimit(1024, 0), echo)
	return s
}

func jsonRequest(path, contentType, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func TestBindJSONAccepts(t *testing.T) {
	s := bindServer(t)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		rec := s.do(jsonRequest("/bind", ct, `{"email":"a@b.c","password":"pw","future_field":1}`))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"email":"a@b.c"`) {
			t.Errorf("Content-Type %q: %d %s", ct, rec.Code, rec.Body)
		}
	}
}

func TestBindJSONRefuses(t *testing.T) {
	s := bindServer(t)
	cases := []struct {
		name, contentType, body string
		status                  int
		detail                  string
	}{
		{"no content type", "", `{"email":"a"}`, 415, "application/json"},
		{"form", "application/x-www-form-urlencoded", `email=a`, 415, "application/json"},
		{"other charset", "application/json; charset=latin1", `{"email":"a"}`, 415, "application/json"},
		{"empty", "application/json", ``, 400, "empty"},
		{"syntax", "application/json", `{"email": a}`, 400, "not valid JSON"},
		{"truncated", "application/json", `{"email": "a"`, 400, "ends in the middle"},
		{"wrong type", "application/json", `{"email": 42}`, 400, `field "email" must be a string, not number`},
		{"not an object", "application/json", `[1,2]`, 400, "the request body must be an object, not array"},
		{"trailing garbage", "application/json", `{"email":"a"} {"x":1}`, 400, "more than one JSON value"},
		{"trailing junk", "application/json", `{"email":"a"} xyz`, 400, "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := s.do(jsonRequest("/bind", tc.contentType, tc.body))
			p := decodeProblemBody(t, rec, tc.status)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tc.detail)
			}
		})
	}
}

func TestBodyLimitByContentLength(t *testing.T) {
	s := bindServer(t)
	reached := false
	s.engine.POST("/count", BodyLimit(64, 0), func(c *gin.Context) { reached = true })

	body := `{"email":"` + strings.Repeat("a", 100) + `"}`
	p := decodeProblemBody(t, s.do(jsonRequest("/count", "application/json", body)), http.StatusRequestEntityTooLarge)
	if reached {
		t.Error("handler ran although Content-Length was over the limit")
	}
	if !strings.Contains(p.Detail, "64 bytes") {
		t.Errorf("detail = %q, want the limit named", p.Detail)
	}
}

func TestBodyLimitByStreamingBody(t *testing.T) {
	s := bindServer(t)
	body := `{"email":"` + strings.Repeat("a", 100) + `"}`
	req := jsonRequest("/bind", "application/json", body)
	req.ContentLength = -1 // chunked: the size is only known while reading
	req.Body = io.NopCloser(strings.NewReader(body))

	decodeProblemBody(t, s.do(req), http.StatusRequestEntityTooLarge)
}

func TestBodyLimitRouteOverride(t *testing.T) {
	s := bindServer(t)
	body := `{"email":"` + strings.Repeat("a", 100) + `"}`
	if rec := s.do(jsonRequest("/big", "application/json", body)); rec.Code != http.StatusOK {
		t.Fatalf("/big with %d bytes: %d %s", len(body), rec.Code, rec.Body)
	}
	big := `{"email":"` + strings.Repeat("a", 2000) + `"}`
	decodeProblemBody(t, s.do(jsonRequest("/big", "application/json", big)), http.StatusRequestEntityTooLarge)
}

func corsServer(t *testing.T, origins []string) *testServer {
	t.Helper()
	s := newTestServer(t, CORS(origins))
	s.engine.GET("/users/me", func(c *gin.Context) { httpx.JSON(c, http.StatusOK, map[string]string{}) })
	s.engine.DELETE("/users/me/sessions", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return s
}

func preflight(path, origin string) *http.Request {
	req := httptest.NewRequest(http.MethodOptions, path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", http.MethodDelete)
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	return req
}

func TestCORSOffWithoutOrigins(t *testing.T) {
	s := corsServer(t, nil)
	req := httptest.NewRequest(http.MethodGet, "/users/me", nil)
	req.Header.Set("Origin", "https://app.example")
	rec := s.do(req)
	for k := range rec.Header() {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("CORS header %s sent although no origin is configured", k)
		}
	}
	if rec := s.do(preflight("/users/me/sessions", "https://app.example")); rec.Code == http.StatusNoContent {
		t.Errorf("preflight answered although CORS is off")
	}
}

func TestCORSAllowedOrigin(t *testing.T) {
	s := corsServer(t, []string{"https://app.example"})

	rec := s.do(preflight("/users/me/sessions", "https://app.example"))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("preflight status = %d", rec.Code)
	}
	h := rec.Header()
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "DELETE") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-Request-ID") ||
		h.Get("Access-Control-Max-Age") == "" || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Errorf("preflight headers = %v", h)
	}

	req := httptest.NewRequest(http.MethodGet, "/users/me", nil)
	req.Header.Set("Origin", "https://app.example")
	h = s.do(req).Header()
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"), "X-Request-ID") ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("simple request headers = %v", h)
	}
}

func TestCORSRefusedOrigin(t *testing.T) {
	s := corsServer(t, []string{"https://app.example"})
	for _, origin := range []string{"https://evil.example", "https://app.example.evil", "http://app.example"} {
		rec := s.do(preflight("/users/me/sessions", origin))
		if rec.Code == http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %s was allowed: %d %v", origin, rec.Code, rec.Header())
		}
		if !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Origin") {
			t.Errorf("origin %s: no Vary: Origin, caches could mix answers", origin)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := newTestServer(t)
	s.engine.GET("/data", func(c *gin.Context) { httpx.JSON(c, http.StatusOK, map[string]int{"a": 1}) })
	s.engine.GET("/cacheable", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.String(http.StatusOK, "x")
	})

	h := s.do(httptest.NewRequest(http.MethodGet, "/data", nil)).Header()
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("API response headers = %v", h)
	}
	if got := s.do(httptest.NewRequest(http.MethodGet, "/cacheable", nil)).Header().Get("Cache-Control"); got != "public, max-age=3600" {
		t.Errorf("handler's Cache-Control was replaced: %q", got)
	}
	if got := s.do(httptest.NewRequest(http.MethodGet, "/nope", nil)).Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("404 problem lacks nosniff")
	}
}

func errNotFoundWithCause() error {
	return fmt.Errorf("store: no row for id 9: %w", model.ErrNotFound)
}
