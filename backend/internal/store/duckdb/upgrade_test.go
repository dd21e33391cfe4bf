package duckdb

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/google/uuid"
)

// TestUpgradeFromTheFirstReleasedSchema builds a database the way the first
// release left it (schema 1, with a user, a session and an audit row,
// written with raw SQL as that release wrote them), then opens it with this
// binary: every later migration applies and nothing is lost.
func TestUpgradeFromTheFirstReleasedSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.duckdb")
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	user, family := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	for _, stmt := range []struct {
		query string
		args  []any
	}{
		{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)`, nil},
		{ms[0].SQL, nil},
		{`INSERT INTO schema_migrations VALUES (1, 'init', ?)`, []any{now}},
		{`INSERT INTO users VALUES (?, 'veteran@example.com', 'hash', 'admin', ?, ?)`, []any{user, now, now}},
		{`INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, parent_id, status, created_at, expires_at,
			family_created_at, user_agent, ip) VALUES (?, 'v1-token', ?, ?, NULL, 'active', ?, ?, ?, 'ua', '192.0.2.1')`,
			[]any{uuid.Must(uuid.NewV7()), family, user, now, now.Add(time.Hour), now}},
		{`INSERT INTO audit_log VALUES (?, ?, ?, 'admin.role_changed', NULL, NULL, NULL)`, []any{uuid.Must(uuid.NewV7()), now, user.String()}},
	} {
		if _, err := db.ExecContext(ctx, stmt.query, stmt.args...); err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	db.Close()

	s := openStoreAt(t, path, nil)
	if v, _ := s.SchemaVersion(ctx); v != LatestSchema() {
		t.Fatalf("upgraded to %d, want %d", v, LatestSchema())
	}
	if got, err := s.UserByEmail(ctx, "veteran@example.com"); err != nil || got.ID != user || got.Role != "admin" {
		t.Fatalf("user after upgrade: %+v %v", got, err)
	}
	if _, ok := active(s, family); !ok {
		t.Fatal("session lost in the upgrade")
	}
	if _, err := s.Rotate(ctx, model.Rotation{OldHash: "v1-token", NewHash: "v2-token", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("refresh after upgrade: %v", err)
	}
	audits, n, err := s.ListAudit(ctx, model.AuditFilter{Limit: 10})
	if err != nil || n != 1 || audits[0].ActorEmail != "" {
		t.Fatalf("audit after upgrade: %+v (%d) %v", audits, n, err)
	}
	if _, err := s.AIStats(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatalf("tables of later migrations missing: %v", err)
	}
}

// TestAMigrationBelowTheHighestAppliedIsStillApplied: migrations written on
// parallel branches land out of order (0004 and 0006 before 0005), so a
// database that recorded a later migration but not an earlier one still
// gets the earlier one on the next start. Here 0003 is the one missing
// below 0005.
func TestAMigrationBelowTheHighestAppliedIsStillApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gap.duckdb")
	ctx := context.Background()
	old, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TABLE login_throttle", "DELETE FROM schema_migrations WHERE version = 3"} {
		if _, err := old.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s := openStoreAt(t, path, nil)
	if _, err := s.Lockouts(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM login_throttle").Scan(&n); err != nil {
		t.Fatalf("0003 was skipped below 0005: %v", err)
	}
}
