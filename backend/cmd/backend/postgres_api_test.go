package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/store/postgres"
	"github.com/duckgate/duckgate/shared/api"
)

// What the backend on PostgreSQL shows the outside, whatever engine the
// rest of this package's tests run on.

func newPostgresServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	vars := map[string]string{"DATABASE_URL": pg.Database(t)}
	for k, v := range env {
		vars[k] = v
	}
	return newTestServer(t, vars)
}

func TestPostgresReadinessHealthAndBackups(t *testing.T) {
	ts := newPostgresServer(t, nil)
	ctx := context.Background()
	latest := postgres.LatestSchema()
	h, err := ts.anon.Readyz(ctx)
	if err != nil || h.Status != "ok" || h.Checks["postgres"] != "ok" || h.Checks["schema"] != strconv.Itoa(latest) {
		t.Fatalf("readyz: %+v %v", h, err)
	}
	dbh, err := ts.admin.DBHealth(ctx)
	if err != nil || dbh.Status != "ok" || dbh.Engine != "postgres" || dbh.SchemaVersion != latest {
		t.Fatalf("db health: %+v %v", dbh, err)
	}
	status, header, body := ts.do("POST", "/admin/backup", "", "", "Authorization", "Bearer "+ts.adminToken())
	p := problemOf(t, header, body)
	if status != http.StatusNotImplemented || p.Type != api.TypeNotImplemented || !strings.Contains(p.Detail, "pg_dump") {
		t.Fatalf("POST /admin/backup on PostgreSQL: %d %+v", status, p)
	}
	for cmd, flag := range map[string]string{"backup": "--out", "restore": "--from"} {
		err := run(ctx, []string{"db", cmd, flag, t.TempDir()},
			func(k string) string { return map[string]string{"DATABASE_URL": ts.cfg.DatabaseURL}[k] }, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "pg_dump") {
			t.Errorf("backend db %s on PostgreSQL: %v", cmd, err)
		}
	}
}

// The serve command logs where its database is, without the password, and
// stops cleanly.
func TestServeOnPostgresLogsNoPassword(t *testing.T) {
	url := strings.Replace(pg.Database(t), "postgres@", "postgres:s3cret-pw@", 1)
	dir := t.TempDir()
	addr := freeAddr(t)
	env := map[string]string{"BACKEND_ADDR": addr, "DATABASE_URL": url, "JWT_KEY_FILE": filepath.Join(dir, "jwt.pem"),
		"DUCKDB_PATH": filepath.Join(dir, "unused.duckdb")}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, nil, &logs, &logs) }()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := hc.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backend did not get ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	out := logs.String()
	if strings.Contains(out, "s3cret-pw") {
		t.Fatalf("the logs show the database password:\n%s", out)
	}
	if !strings.Contains(out, `"engine":"postgres"`) || !strings.Contains(out, "postgres:xxxxx@127.0.0.1") {
		t.Fatalf("the start-up line does not name the database:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "unused.duckdb")); !os.IsNotExist(err) {
		t.Fatalf("a backend on PostgreSQL touched DUCKDB_PATH: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// backend db export on DuckDB and backend db import on PostgreSQL move a
// database: the accounts sign in, and a session started on DuckDB goes on
// refreshing on PostgreSQL.
func TestExportAndImportCommandsMoveADatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	duck, stop := serveTestApp(t, newTestAppAt(t, dir, map[string]string{"DATABASE_URL": ""}))
	if duck.engine != "duckdb" {
		t.Fatalf("engine %s", duck.engine)
	}
	duck.register("mover@example.com", "password-mover")
	_, pair := duck.loginPair("mover@example.com", "password-mover")
	stop()

	exported := filepath.Join(t.TempDir(), "export")
	var out bytes.Buffer
	duckEnv := func(k string) string { return map[string]string{"DUCKDB_PATH": filepath.Join(dir, "app.duckdb")}[k] }
	if err := run(ctx, []string{"db", "export", "--out", exported}, duckEnv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "2 users") {
		t.Fatalf("export said: %s", out.String())
	}
	url := pg.Database(t)
	pgEnv := func(k string) string { return map[string]string{"DATABASE_URL": url}[k] }
	out.Reset()
	if err := run(ctx, []string{"db", "import", "--from", exported}, pgEnv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "from duckdb") || !strings.Contains(out.String(), "into the postgres database") {
		t.Fatalf("import said: %s", out.String())
	}
	if err := run(ctx, []string{"db", "import", "--from", exported}, pgEnv, nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a second import: %v", err)
	}

	moved, _ := serveTestApp(t, newTestAppAt(t, dir, map[string]string{"DATABASE_URL": url}))
	if moved.engine != "postgres" {
		t.Fatalf("engine %s", moved.engine)
	}
	next, err := moved.anon.Refresh(ctx, pair.RefreshToken)
	if err != nil {
		t.Fatalf("a refresh token from DuckDB on PostgreSQL: %v", err)
	}
	if me, err := moved.anon.WithToken(next.AccessToken).Me(ctx); err != nil || me.Email != "mover@example.com" {
		t.Fatalf("me after the move: %+v %v", me, err)
	}
	moved.login("mover@example.com", "password-mover")
}
