package duckdb

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// TestUpgradeFromTheFirstReleasedSchema builds a database the way the first
// release left it (schema 1, with users, sessions and audit rows), then
// opens it with this binary: every later migration applies and nothing is
// lost.
func TestUpgradeFromTheFirstReleasedSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.duckdb")
	ctx := context.Background()
	old, err := Open(ctx, path, Options{schemaUpTo: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := old.SchemaVersion(ctx); v != 1 {
		t.Fatalf("fixture at schema %d", v)
	}
	u := mustCreateUser(t, old, "veteran@example.com", "admin")
	family, err := old.CreateSession(ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: "v1-token", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.AppendAudit(ctx, &model.Audit{Action: "admin.role_changed", ActorID: u.ID.String()}); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s := openStoreAt(t, path, nil)
	if v, _ := s.SchemaVersion(ctx); v != LatestSchema() {
		t.Fatalf("upgraded to %d, want %d", v, LatestSchema())
	}
	if got, err := s.UserByEmail(ctx, "veteran@example.com"); err != nil || got.ID != u.ID || got.Role != "admin" {
		t.Fatalf("user after upgrade: %+v %v", got, err)
	}
	if _, ok := active(s, family); !ok {
		t.Fatal("session lost in the upgrade")
	}
	if _, err := s.Rotate(ctx, model.Rotation{OldHash: "v1-token", NewHash: "v2-token", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("refresh after upgrade: %v", err)
	}
	if _, n, err := s.ListAudit(ctx, model.AuditFilter{Limit: 10}); err != nil || n != 1 {
		t.Fatalf("audit after upgrade: %d %v", n, err)
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
