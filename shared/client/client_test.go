package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// seen is what a test server recorded of the last request.
type seen struct {
	method, path, query, body string
	header                    http.Header
}

// recordingServer answers every request with status, contentType and reply,
// and records the request.
func recordingServer(t *testing.T, status int, contentType, reply string) (*httptest.Server, *seen) {
	t.Helper()
	var mu sync.Mutex
	last := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		*last = seen{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, body: string(body), header: r.Header.Clone()}
		mu.Unlock()
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return srv, last
}

func ptr[T any](v T) *T { return &v }

var when = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

const userJSON = `{"id":"u1","email":"ada@example.com","role":"admin","created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z","added_later":{"x":1}}`

var wantUser = &api.User{ID: "u1", Email: "ada@example.com", Role: "admin", CreatedAt: when, UpdatedAt: when}

const pairJSON = `{"access_token":"at","refresh_token":"rt","token_type":"bearer","expires_in":900}`

var wantPair = &api.TokenPair{AccessToken: "at", RefreshToken: "rt", TokenType: "bearer", ExpiresIn: 900}

const jobJSON = `{"id":"v1","status":"pending","model":"m","prompt":"p","created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`

var wantJob = api.VideoJob{ID: "v1", Status: "pending", Model: "m", Prompt: "p", CreatedAt: when, UpdatedAt: when}

// Every endpoint: the request it sends and how it decodes the answer.
func TestEndpoints(t *testing.T) {
	tests := []struct {
		name                string
		call                func(context.Context, *Client) (any, error)
		method, path, query string
		body                string // expected request body: JSON compared by value, else verbatim
		status              int
		reply               string
		want                any
	}{
		{"register", func(ctx context.Context, c *Client) (any, error) {
			return c.Register(ctx, api.RegisterRequest{Email: "ada@example.com", Password: "secret123"})
		}, "POST", "/auth/register", "", `{"email":"ada@example.com","password":"secret123"}`, 201, userJSON, wantUser},
		{"login", func(ctx context.Context, c *Client) (any, error) {
			return c.Login(ctx, api.LoginRequest{Email: "ada@example.com", Password: "pw"})
		}, "POST", "/auth/login", "", `{"email":"ada@example.com","password":"pw"}`, 200, pairJSON, wantPair},
		{"login form", func(ctx context.Context, c *Client) (any, error) {
			return c.LoginForm(ctx, "ada@example.com", "p&w")
		}, "POST", "/auth/login", "", "grant_type=password&password=p%26w&username=ada%40example.com", 200, pairJSON, wantPair},
		{"refresh", func(ctx context.Context, c *Client) (any, error) { return c.Refresh(ctx, "rt0") },
			"POST", "/auth/refresh", "", `{"refresh_token":"rt0"}`, 200, pairJSON, wantPair},
		{"logout", func(ctx context.Context, c *Client) (any, error) { return nil, c.Logout(ctx, "rt0") },
			"POST", "/auth/logout", "", `{"refresh_token":"rt0"}`, 204, "", nil},
		{"jwks", func(ctx context.Context, c *Client) (any, error) { return c.JWKS(ctx) },
			"GET", "/.well-known/jwks.json", "", "", 200, `{"keys":[{"kty":"OKP","kid":"k1"}]}`,
			&api.JWKS{Keys: []map[string]any{{"kty": "OKP", "kid": "k1"}}}},
		{"me", func(ctx context.Context, c *Client) (any, error) { return c.Me(ctx) },
			"GET", "/users/me", "", "", 200, userJSON, wantUser},
		{"update me", func(ctx context.Context, c *Client) (any, error) {
			return c.UpdateMe(ctx, api.UpdateMeRequest{Password: ptr("new-secret"), CurrentPassword: "old"})
		}, "PUT", "/users/me", "", `{"password":"new-secret","current_password":"old"}`, 200, userJSON, wantUser},
		{"sessions", func(ctx context.Context, c *Client) (any, error) { return c.Sessions(ctx) },
			"GET", "/users/me/sessions", "", "", 200, `{"items":[{"id":"s1","ip":"10.0.0.1","current":true}]}`,
			&api.SessionList{Items: []api.Session{{ID: "s1", IP: "10.0.0.1", Current: true}}}},
		{"revoke session escapes the id", func(ctx context.Context, c *Client) (any, error) {
			return nil, c.RevokeSession(ctx, "../../users/x?y")
		}, "DELETE", "/users/me/sessions/..%2F..%2Fusers%2Fx%3Fy", "", "", 204, "", nil},
		{"revoke other sessions", func(ctx context.Context, c *Client) (any, error) { return nil, c.RevokeOtherSessions(ctx) },
			"DELETE", "/users/me/sessions", "", "", 204, "", nil},
		{"list users", func(ctx context.Context, c *Client) (any, error) {
			return c.ListUsers(ctx, ListUsersParams{Limit: 10, Offset: 20, Query: "a b&c"})
		}, "GET", "/users", "limit=10&offset=20&q=a+b%26c", "", 200, `{"items":[` + userJSON + `],"total":21}`,
			&api.UserList{Items: []api.User{*wantUser}, Total: 21}},
		{"list users leaves out zero params", func(ctx context.Context, c *Client) (any, error) {
			return c.ListUsers(ctx, ListUsersParams{})
		}, "GET", "/users", "", "", 200, `{"items":[],"total":0}`, &api.UserList{Items: []api.User{}}},
		{"delete user", func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteUser(ctx, "u 1") },
			"DELETE", "/users/u%201", "", "", 204, "", nil},
		{"set role", func(ctx context.Context, c *Client) (any, error) { return c.SetRole(ctx, "u1", api.RoleAdmin) },
			"PUT", "/users/u1/role", "", `{"role":"admin"}`, 200, userJSON, wantUser},
		{"stats", func(ctx context.Context, c *Client) (any, error) { return c.Stats(ctx) },
			"GET", "/admin/stats", "", "", 200, `{"users":{"total":3,"by_role":{"admin":1,"user":2}},"ai":{"requests_24h":7}}`,
			&api.Stats{Users: api.UserStats{Total: 3, ByRole: api.RoleCounts{Admin: 1, User: 2}}, AI: api.AIStats{Requests24h: 7}}},
		{"db health", func(ctx context.Context, c *Client) (any, error) { return c.DBHealth(ctx) },
			"GET", "/admin/health/db", "", "", 200, `{"status":"ok","latency_ms":1.5}`, &api.DBHealth{Status: "ok", LatencyMS: 1.5}},
		{"purge tokens", func(ctx context.Context, c *Client) (any, error) { return c.PurgeTokens(ctx) },
			"POST", "/admin/tokens/purge", "", "", 200, `{"purged":4}`, &api.PurgeResult{Purged: 4}},
		{"audit", func(ctx context.Context, c *Client) (any, error) {
			return c.Audit(ctx, AuditParams{Limit: 5, Actor: "u1", Action: api.AuditRoleChange})
		}, "GET", "/admin/audit", "action=admin.role_changed&actor=u1&limit=5", "", 200,
			`{"items":[{"id":"a1","at":"2025-01-02T03:04:05Z","action":"admin.role_changed"}],"total":1}`,
			&api.AuditList{Items: []api.AuditEntry{{ID: "a1", At: when, Action: api.AuditRoleChange}}, Total: 1}},
		{"usage", func(ctx context.Context, c *Client) (any, error) {
			return c.Usage(ctx, UsageParams{Days: 7, GroupBy: "model"})
		},
			"GET", "/admin/usage", "days=7&group_by=model", "", 200, `{"days":7,"group_by":"model","rows":[{"key":"m","requests":2}]}`,
			&api.UsageReport{Days: 7, GroupBy: "model", Rows: []api.UsageRow{{Key: "m", Requests: 2}}}},
		{"backup", func(ctx context.Context, c *Client) (any, error) { return c.Backup(ctx) },
			"POST", "/admin/backup", "", "", 200, `{"path":"/b/x.duckdb","at":"2025-01-02T03:04:05Z","bytes":42}`,
			&api.BackupResult{Path: "/b/x.duckdb", At: when, Bytes: 42}},
		{"models of a modality", func(ctx context.Context, c *Client) (any, error) { return c.Models(ctx, api.ModalityImage) },
			"GET", "/ai/models", "modality=image", "", 200, `{"data":[{"id":"m1","output_modalities":["image"]}]}`,
			&api.ModelList{Data: []api.Model{{ID: "m1", OutputModalities: []string{"image"}}}}},
		{"all models", func(ctx context.Context, c *Client) (any, error) { return c.Models(ctx, "") },
			"GET", "/ai/models", "", "", 200, `{"data":[]}`, &api.ModelList{Data: []api.Model{}}},
		{"chat never streams", func(ctx context.Context, c *Client) (any, error) {
			return c.Chat(ctx, api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "hi"}}, Stream: true, MaxTokens: ptr(5)})
		}, "POST", "/ai/chat", "", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":5}`, 200,
			`{"id":"c1","model":"m","message":{"role":"assistant","content":"hello"},"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
			&api.ChatResponse{ID: "c1", Model: "m", Message: api.ChatMessage{Role: "assistant", Content: "hello"}, Usage: api.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}}},
		{"generate text", func(ctx context.Context, c *Client) (any, error) {
			return c.GenerateText(ctx, api.TextRequest{Prompt: "p", SystemPrompt: "s"})
		}, "POST", "/generate/text", "", `{"prompt":"p","system_prompt":"s"}`, 200, `{"text":"t","model":"m"}`,
			&api.TextResponse{Text: "t", Model: "m"}},
		{"generate image", func(ctx context.Context, c *Client) (any, error) {
			return c.GenerateImage(ctx, api.ImageRequest{Prompt: "duck", AspectRatio: "16:9"})
		}, "POST", "/generate/image", "", `{"prompt":"duck","aspect_ratio":"16:9"}`, 200, `{"model":"m","images":[{"url":"data:image/png;base64,AA=="}]}`,
			&api.ImageResponse{Model: "m", Images: []api.Image{{URL: "data:image/png;base64,AA=="}}}},
		{"generate video", func(ctx context.Context, c *Client) (any, error) {
			return c.GenerateVideo(ctx, api.VideoRequest{Prompt: "p", Duration: ptr(4)})
		}, "POST", "/generate/video", "", `{"prompt":"p","duration":4}`, 202, jobJSON, &wantJob},
		{"generate video from image", func(ctx context.Context, c *Client) (any, error) {
			return c.GenerateVideoFromImage(ctx, api.VideoFromImageRequest{VideoRequest: api.VideoRequest{Prompt: "p"}, ImageURL: "https://x/y.png"})
		}, "POST", "/generate/video/from-image", "", `{"prompt":"p","image_url":"https://x/y.png"}`, 202, jobJSON, &wantJob},
		{"video jobs", func(ctx context.Context, c *Client) (any, error) { return c.VideoJobs(ctx, 3, 6) },
			"GET", "/generate/video", "limit=3&offset=6", "", 200, `{"items":[` + jobJSON + `],"total":7}`,
			&api.VideoJobList{Items: []api.VideoJob{wantJob}, Total: 7}},
		{"video job", func(ctx context.Context, c *Client) (any, error) { return c.VideoJob(ctx, "v1") },
			"GET", "/generate/video/v1", "", "", 200, jobJSON, &wantJob},
		{"healthz", func(ctx context.Context, c *Client) (any, error) { return c.Healthz(ctx) },
			"GET", "/healthz", "", "", 200, `{"status":"ok","version":"1.2.3"}`, &api.Health{Status: "ok", Version: "1.2.3"}},
		{"readyz", func(ctx context.Context, c *Client) (any, error) { return c.Readyz(ctx) },
			"GET", "/readyz", "", "", 200, `{"status":"ok","checks":{"duckdb":"ok"}}`, &api.Health{Status: "ok", Checks: map[string]string{"duckdb": "ok"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, last := recordingServer(t, tt.status, "application/json; charset=utf-8", tt.reply)
			got, err := tt.call(t.Context(), New(srv.URL))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if last.method != tt.method || last.path != tt.path || last.query != tt.query {
				t.Errorf("sent %s %s?%s, want %s %s?%s", last.method, last.path, last.query, tt.method, tt.path, tt.query)
			}
			assertBody(t, last, tt.body)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func assertBody(t *testing.T, got *seen, want string) {
	t.Helper()
	if want == "" {
		if got.body != "" {
			t.Errorf("sent body %q, want none", got.body)
		}
		return
	}
	var gotJSON, wantJSON any
	if json.Unmarshal([]byte(want), &wantJSON) != nil { // a form, compared verbatim
		if got.body != want || got.header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("sent %q (%s), want form %q", got.body, got.header.Get("Content-Type"), want)
		}
		return
	}
	if err := json.Unmarshal([]byte(got.body), &gotJSON); err != nil || !reflect.DeepEqual(gotJSON, wantJSON) {
		t.Errorf("sent body %s, want %s", got.body, want)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("sent Content-Type %q, want application/json", ct)
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name    string
		client  func(base string) *Client
		ctx     func(context.Context) context.Context
		want    map[string]string // "" means absent
		wantCap string
	}{
		{"anonymous", func(b string) *Client { return New(b) }, nil,
			map[string]string{"Authorization": "", "User-Agent": DefaultUserAgent, "X-Request-ID": "", "X-Forwarded-For": ""}, ""},
		{"token, own user agent and request id", func(b string) *Client { return New(b, WithUserAgent("frontend/1")).WithToken("tok") },
			func(ctx context.Context) context.Context { return WithRequestID(ctx, "req-7") },
			map[string]string{"Authorization": "Bearer tok", "User-Agent": "frontend/1", "X-Request-ID": "req-7"}, ""},
		{"on behalf of a browser", func(b string) *Client { return New(b, WithUserAgent("frontend/1")).WithToken("tok") },
			func(ctx context.Context) context.Context {
				return WithForwarded(WithRequestID(ctx, "req-8"), "203.0.113.9", "Mozilla/5.0 (X11)")
			},
			map[string]string{"Authorization": "Bearer tok", "User-Agent": "Mozilla/5.0 (X11)", "X-Forwarded-For": "203.0.113.9", "X-Request-ID": "req-8"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, last := recordingServer(t, 200, "application/json", userJSON)
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx(ctx)
			}
			if _, err := tt.client(srv.URL).Me(ctx); err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				if got := last.header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestWithTokenLeavesTheOriginalAnonymous(t *testing.T) {
	srv, last := recordingServer(t, 200, "application/json", userJSON)
	base := New(srv.URL + "/") // a trailing slash must not double up
	_ = base.WithToken("tok")
	if _, err := base.Me(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := last.header.Get("Authorization"); got != "" {
		t.Errorf("original client sent Authorization %q", got)
	}
	if last.path != "/users/me" {
		t.Errorf("path %q, want /users/me", last.path)
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		header      map[string]string
		body        string
		want        api.Problem
	}{
		{"problem with field errors and request id", 422, "application/problem+json", map[string]string{"X-Request-ID": "r1"},
			`{"type":"` + api.TypeValidation + `","title":"Validation failed","status":422,"detail":"check the fields","errors":[{"field":"email","message":"is not an email"}]}`,
			api.Problem{Type: api.TypeValidation, Title: "Validation failed", Status: 422, Detail: "check the fields", RequestID: "r1",
				Errors: []api.FieldError{{Field: "email", Message: "is not an email"}}}},
		{"rate limited with Retry-After seconds", 429, "application/problem+json", map[string]string{"Retry-After": "30"},
			`{"type":"` + api.TypeRateLimited + `","title":"Too many requests","status":429}`,
			api.Problem{Type: api.TypeRateLimited, Title: "Too many requests", Status: 429, RetryAfter: 30}},
		{"Retry-After as an HTTP date", 503, "application/problem+json",
			map[string]string{"Retry-After": time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)},
			`{"type":"` + api.TypeUnavailable + `","title":"Unavailable","status":503}`,
			api.Problem{Type: api.TypeUnavailable, Title: "Unavailable", Status: 503, RetryAfter: 120}},
		{"the HTTP status wins over the body's", 404, "application/problem+json", nil,
			`{"type":"` + api.TypeNotFound + `","title":"Not found","status":500}`,
			api.Problem{Type: api.TypeNotFound, Title: "Not found", Status: 404}},
		{"a proxy's HTML page", 502, "text/html", nil,
			"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>",
			api.Problem{Type: "about:blank", Title: "Bad Gateway", Status: 502,
				Detail: `the server answered with an HTML page ("502 Bad Gateway") instead of a problem detail`}},
		{"gin's plain-text 404", 404, "text/plain", nil, "404 page not found\n",
			api.Problem{Type: "about:blank", Title: "Not Found", Status: 404, Detail: "404 page not found"}},
		{"JSON that is no problem", 500, "application/json", nil, `{"message":"boom"}`,
			api.Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500,
				Detail: "the server answered 500 with application/json instead of a problem detail"}},
		{"no body at all", 401, "", map[string]string{"WWW-Authenticate": "Bearer"}, "",
			api.Problem{Type: "about:blank", Title: "Unauthorized", Status: 401, Detail: "the server answered 401 without any detail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := New(srv.URL).Me(t.Context())
			p, ok := err.(*api.Problem)
			if !ok {
				t.Fatalf("error %T %v, want *api.Problem", err, err)
			}
			if p.RetryAfter >= 118 && tt.want.RetryAfter == 120 { // an HTTP date has second precision
				p.RetryAfter = 120
			}
			if !reflect.DeepEqual(*p, tt.want) {
				t.Errorf("problem %#v\nwant %#v", *p, tt.want)
			}
			if !IsStatus(err, tt.status) || IsStatus(err, tt.status+1) {
				t.Errorf("IsStatus does not match status %d", tt.status)
			}
		})
	}
}

func TestIsStatusLooksThroughWrapping(t *testing.T) {
	err := errors.Join(errors.New("signing in"), &api.Problem{Status: 401})
	if !IsStatus(err, 401) || IsStatus(errors.New("401"), 401) || IsStatus(nil, 401) {
		t.Error("IsStatus must find a wrapped problem and nothing else")
	}
	if !IsStatus(&StreamError{Code: 504}, 504) {
		t.Error("IsStatus must match a stream error's code")
	}
}

// A 503 health report is both a report and an error.
func TestReportsOfAnUnhealthyBackend(t *testing.T) {
	t.Run("db health", func(t *testing.T) {
		srv, _ := recordingServer(t, 503, "application/json", `{"status":"error","latency_ms":2000,"error":"database is locked"}`)
		h, err := New(srv.URL).DBHealth(t.Context())
		if h == nil || h.Status != "error" || h.Error != "database is locked" {
			t.Errorf("report %+v, want the 503 body", h)
		}
		p, ok := err.(*api.Problem)
		if !ok || p.Status != 503 || p.Detail != "database unhealthy: database is locked" {
			t.Errorf("error %#v, want a 503 problem naming the cause", err)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		srv, _ := recordingServer(t, 503, "application/json", `{"status":"error","checks":{"duckdb":"down","schema":"ok"}}`)
		h, err := New(srv.URL).Readyz(t.Context())
		if h == nil || h.Checks["duckdb"] != "down" {
			t.Errorf("report %+v, want the 503 body", h)
		}
		if !IsStatus(err, 503) || !strings.Contains(err.Error(), "duckdb: down") {
			t.Errorf("error %v, want a 503 naming the failed check", err)
		}
	})
	t.Run("a problem is no report", func(t *testing.T) {
		srv, _ := recordingServer(t, 503, api.ProblemContentType, `{"type":"`+api.TypeUnavailable+`","title":"Unavailable","status":503}`)
		h, err := New(srv.URL).DBHealth(t.Context())
		if h != nil || !IsStatus(err, 503) {
			t.Errorf("got %+v, %v; want no report and a 503", h, err)
		}
	})
	t.Run("forbidden is no report", func(t *testing.T) {
		srv, _ := recordingServer(t, 403, api.ProblemContentType, `{"type":"`+api.TypeForbidden+`","title":"Forbidden","status":403}`)
		h, err := New(srv.URL).DBHealth(t.Context())
		if h != nil || !IsStatus(err, 403) {
			t.Errorf("got %+v, %v; want no report and a 403", h, err)
		}
	})
}

func TestUnexpectedSuccessBodies(t *testing.T) {
	tests := []struct{ name, contentType, body, wantErr string }{
		{"HTML instead of JSON", "text/html", "<html></html>", `client: GET /users/me: unexpected content type "text/html"`},
		{"broken JSON", "application/json", `{"id":`, "client: GET /users/me: decode response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := recordingServer(t, 200, tt.contentType, tt.body)
			_, err := New(srv.URL).Me(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestTransportErrorsNameTheCall(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	_, err := New(url).Login(t.Context(), api.LoginRequest{Email: "a@b.c", Password: "x"})
	var netErr *net.OpError
	if err == nil || !strings.HasPrefix(err.Error(), "client: POST /auth/login: ") || !errors.As(err, &netErr) {
		t.Errorf("error %v, want it wrapped with the call and the cause kept", err)
	}
}

func TestContextCancellationStopsAWaitingCall(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := New(srv.URL).Me(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("the call did not stop at the deadline")
	}
}

// Every kind of answer leaves the connection reusable: one TCP connection
// serves a success, a 204, a problem, a large HTML error page and a video.
func TestConnectionsAreReused(t *testing.T) {
	bigPage := "<html><title>oops</title>" + strings.Repeat("x", 100<<10) + "</html>"
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/users/me":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(wantUser) // with a trailing newline after the object
		case "/users/me/sessions":
			w.WriteHeader(204)
		case "/users/u1":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, bigPage)
		case "/generate/video/v1/content":
			w.Header().Set("Content-Type", "video/mp4")
			_, _ = io.WriteString(w, "mp4 bytes")
		default:
			w.Header().Set("Content-Type", api.ProblemContentType)
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"type":"`+api.TypeNotFound+`","title":"Not found","status":404}`)
		}
	}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := New(srv.URL)
	ctx := t.Context()
	for range 3 {
		if _, err := c.Me(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.RevokeOtherSessions(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.VideoJob(ctx, "missing"); !IsStatus(err, 404) {
			t.Fatalf("want 404, got %v", err)
		}
		if err := c.DeleteUser(ctx, "u1"); !IsStatus(err, 502) {
			t.Fatalf("want 502, got %v", err)
		}
		body, ct, err := c.VideoContent(ctx, "v1")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(body)
		_ = body.Close()
		if string(got) != "mp4 bytes" || ct != "video/mp4" {
			t.Fatalf("video %q (%s)", got, ct)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections opened, want 1", n)
	}
}

func TestVideoContentOfAMissingJobIsAProblem(t *testing.T) {
	srv, last := recordingServer(t, 404, api.ProblemContentType, `{"type":"`+api.TypeNotFound+`","title":"Not found","status":404}`)
	body, _, err := New(srv.URL).WithToken("t").VideoContent(t.Context(), "v9")
	if body != nil || !IsStatus(err, 404) || last.path != "/generate/video/v9/content" {
		t.Errorf("got body %v, error %v, path %s", body, err, last.path)
	}
}
