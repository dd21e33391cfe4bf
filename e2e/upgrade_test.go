package e2e

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// TestUpgradeFromTheFirstReleasedSchema starts the current backend on a
// database made by the first released schema: the migrations since apply on
// start-up, and its users, sessions and audit trail are all still there.
func TestUpgradeFromTheFirstReleasedSchema(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(RepoRoot(), "e2e", "testdata", "schema-v1.duckdb"), filepath.Join(dir, "app.duckdb"))
	b := StartBackend(t, dir)
	if !strings.Contains(b.Logs(), `"msg":"applied migration","version":2`) {
		t.Fatalf("no migration applied on the old database:\n%s", b.Logs())
	}
	c := client.New(b.URL)
	ctx := context.Background()

	// The session from before the upgrade refreshes.
	pair, err := c.Refresh(ctx, "fixture-refresh-token")
	if err != nil {
		t.Fatalf("refresh of a session made before the upgrade: %v", err)
	}
	me, err := c.WithToken(pair.AccessToken).Me(ctx)
	if err != nil || me.Email != "veteran@example.com" {
		t.Fatalf("me: %+v %v", me, err)
	}
	admin := signIn(t, c, AdminEmail, AdminPassword)
	if audit, err := admin.Audit(ctx, client.AuditParams{Action: api.AuditUserCreated}); err != nil || audit.Total != 1 {
		t.Fatalf("audit from before the upgrade: %+v %v", audit, err)
	}
	// Tables of later migrations are there.
	if _, err := admin.Usage(ctx, client.UsageParams{Days: 7, GroupBy: "model"}); err != nil {
		t.Fatalf("usage report after the upgrade: %v", err)
	}
	if _, err := admin.Backup(ctx); err != nil {
		t.Fatalf("backup after the upgrade: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
