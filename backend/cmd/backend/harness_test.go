package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/config"
	"github.com/duckgate/duckgate/backend/internal/httpapi"
	"github.com/duckgate/duckgate/backend/internal/openapi"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
	"github.com/gin-gonic/gin"
)

const (
	testAdminEmail    = "root@example.com"
	testAdminPassword = "root-password-1"
)

// testServer is the real router over a real DuckDB file in a temporary
// directory, served on loopback. Every response that passes through its
// clients is checked against the OpenAPI document.
type testServer struct {
	t       *testing.T
	URL     string
	engine  string // "duckdb" or "postgres"
	store   database
	cfg     config.Config
	http    *http.Client
	anon    *client.Client
	admin   *client.Client
	adminID string
}

var (
	validatorOnce sync.Once
	validator     *openapi.Validator
)

func docValidator(t testing.TB) *openapi.Validator {
	validatorOnce.Do(func() {
		doc, err := httpapi.Document(openapi.Info{Title: "test", Version: "test"}, httpapi.BodyLimits{Default: 1 << 20, Image: 10 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if validator, err = openapi.NewValidator(doc); err != nil {
			t.Fatal(err)
		}
	})
	return validator
}

// cheapHashing keeps argon2id's shape at a fraction of its cost: the tests
// sign in hundreds of times, and under the race detector the production
// parameters made hashing most of the suite's time.
var cheapHashing = auth.PasswordParams{MemoryKiB: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// realHashing, set in a test's env, assembles the backend with the
// production parameters (for tests whose point is a sign-in's duration).
const realHashing = "TEST_PRODUCTION_PASSWORD_HASHING"

// newTestApp assembles a backend on a fresh DuckDB file without serving it.
func newTestApp(t testing.TB, env map[string]string) *testApp {
	t.Helper()
	return newTestAppAt(t, t.TempDir(), env)
}

// newTestAppAt assembles a backend on the database file and signing key in
// dir, so a second one on the same dir is a restart. With
// DUCKGATE_TEST_ENGINE=postgres (make test runs this package once more so)
// the database is a PostgreSQL one, the same for the same dir.
func newTestAppAt(t testing.TB, dir string, env map[string]string) *testApp {
	t.Helper()
	vars := map[string]string{
		"DUCKDB_PATH":    filepath.Join(dir, "app.duckdb"),
		"JWT_KEY_FILE":   filepath.Join(dir, "jwt.pem"),
		"ADMIN_EMAIL":    testAdminEmail,
		"ADMIN_PASSWORD": testAdminPassword,
		"LOG_LEVEL":      "error",
	}
	if testEngine() == "postgres" {
		vars["DATABASE_URL"] = postgresFor(t, dir)
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	st, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	hashing := cheapHashing
	if env[realHashing] != "" {
		hashing = auth.DefaultPasswordParams
	}
	a, err := assemble(ctx, cfg, st, logger, hashing)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	if err := bootstrapAdmin(ctx, cfg, a, logger, io.Discard); err != nil {
		t.Fatal(err)
	}
	ta := &testApp{app: a, store: st, cfg: cfg}
	var once sync.Once
	ta.shutdown = func() { once.Do(func() { a.close(); st.Close() }) }
	t.Cleanup(ta.shutdown)
	return ta
}

// testApp is an assembled backend and what it was assembled from.
type testApp struct {
	*app
	store    database
	cfg      config.Config
	shutdown func() // stops the services and closes the store; idempotent
}

// newTestServer starts a backend with env overriding the test defaults.
func newTestServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	ts, _ := serveTestApp(t, newTestApp(t, env))
	return ts
}

// serveTestApp serves a on loopback and signs the admin in. stop closes the
// server and then the app (a restart's first half); it is idempotent.
func serveTestApp(t *testing.T, a *testApp) (ts *testServer, stop func()) {
	t.Helper()
	ts, stop = serveApp(t, a)
	ts.admin, ts.adminID = ts.login(testAdminEmail, testAdminPassword)
	return ts, stop
}

// serveApp serves a on loopback, nobody signed in.
func serveApp(t *testing.T, a *testApp) (ts *testServer, stop func()) {
	t.Helper()
	srv := httptest.NewServer(a.router)
	stop = func() { srv.Close(); a.shutdown() }
	t.Cleanup(stop)
	hc := &http.Client{Transport: &validatingTransport{t: t, v: docValidator(t), next: srv.Client().Transport}}
	ts = &testServer{t: t, URL: srv.URL, engine: a.cfg.Engine(), store: a.store, cfg: a.cfg, http: hc,
		anon: client.New(srv.URL, client.WithHTTPClient(hc))}
	return ts, stop
}

// register creates a user and returns its id.
func (ts *testServer) register(email, password string) string {
	ts.t.Helper()
	u, err := ts.anon.Register(context.Background(), api.RegisterRequest{Email: email, Password: password})
	if err != nil {
		ts.t.Fatalf("register %s: %v", email, err)
	}
	return u.ID
}

// login signs in and returns a client carrying the access token.
func (ts *testServer) login(email, password string) (*client.Client, string) {
	ts.t.Helper()
	c, pair := ts.loginPair(email, password)
	me, err := c.Me(context.Background())
	if err != nil {
		ts.t.Fatalf("me after login: %v", err)
	}
	_ = pair
	return c, me.ID
}

func (ts *testServer) loginPair(email, password string) (*client.Client, *api.TokenPair) {
	ts.t.Helper()
	pair, err := ts.anon.Login(context.Background(), api.LoginRequest{Email: email, Password: password})
	if err != nil {
		ts.t.Fatalf("login %s: %v", email, err)
	}
	return ts.anon.WithToken(pair.AccessToken), pair
}

// newUser registers and signs in a fresh user.
func (ts *testServer) newUser(email string) (*client.Client, string) {
	ts.t.Helper()
	ts.register(email, "password-"+email)
	return ts.login(email, "password-"+email)
}

// do sends a raw request (for malformed bodies and headers the typed client
// cannot produce) and returns status, headers and body.
func (ts *testServer) do(method, path, contentType, body string, headers ...string) (int, http.Header, string) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.http.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// problemOf decodes a problem body, failing the test if it is not one.
func problemOf(t *testing.T, header http.Header, body string) api.Problem {
	t.Helper()
	if ct := header.Get("Content-Type"); ct != api.ProblemContentType {
		t.Fatalf("Content-Type = %q, want %s; body %s", ct, api.ProblemContentType, body)
	}
	var p api.Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Type == "" || p.Title == "" || p.Status == 0 || p.RequestID == "" {
		t.Fatalf("incomplete problem: %s", body)
	}
	return p
}

// wantStatus fails unless err is a problem with this status.
func wantStatus(t *testing.T, err error, status int) *api.Problem {
	t.Helper()
	p, ok := err.(*api.Problem)
	if !ok || p.Status != status {
		t.Fatalf("got %v, want a %d problem", err, status)
	}
	return p
}

// validatingTransport checks every response against the OpenAPI document.
type validatingTransport struct {
	t    testing.TB
	v    *openapi.Validator
	next http.RoundTripper
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := vt.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	ct := resp.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/event-stream") || strings.HasPrefix(ct, "video/") {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	err = vt.v.ValidateResponse(req.Method, req.URL.EscapedPath(), resp.StatusCode, ct, body)
	if err != nil && outsideTheAPI(req, resp, err) {
		err = nil // unknown paths, methods and CORS preflights are not operations
	}
	if err != nil {
		vt.t.Errorf("%s %s → %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, truncate(body))
	}
	return resp, nil
}

func outsideTheAPI(req *http.Request, resp *http.Response, err error) bool {
	undocumented := strings.Contains(err.Error(), "no documented path") || strings.Contains(err.Error(), "is not documented")
	return undocumented && (req.Method == http.MethodOptions || resp.StatusCode == http.StatusMethodNotAllowed ||
		resp.StatusCode == http.StatusNotFound)
}

func truncate(b []byte) string {
	if len(b) > 500 {
		return fmt.Sprintf("%s… (%d bytes)", b[:500], len(b))
	}
	return string(b)
}

func init() { gin.SetMode(gin.TestMode) } // main sets release mode; tests assemble routers without main
