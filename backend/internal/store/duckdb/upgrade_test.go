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
