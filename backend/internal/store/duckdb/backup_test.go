package duckdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/model"
)

func TestBackupWhileWritingAndRestoreElsewhere(t *testing.T) {
	dir := t.TempDir()
	s := openStoreAt(t, filepath.Join(dir, "live.duckdb"), nil)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		mustCreateUser(t, s, fmt.Sprintf("before-%d@example.com", i), "user")
	}
	// Writers keep going while the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during atomic.Int32
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.CreateUser(ctx, model.NewUser(fmt.Sprintf("during-%d-%d@example.com", w, i), "h", "user", s.now()), nil); err != nil {
					t.Error(err)
					return
				}
				during.Add(1)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	path, m, err := s.backup(ctx, filepath.Join(dir, "backups"))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows["users"] < 20 || m.SchemaVersion != LatestSchema() || m.Bytes == 0 {
		t.Fatalf("manifest %+v", m)
	}

	target := filepath.Join(dir, "restored", "app.duckdb")
	got, kept, err := Restore(ctx, path, target)
	if err != nil || kept != "" || got.Rows["users"] != m.Rows["users"] {
		t.Fatalf("restore: %+v %q %v", got, kept, err)
	}
	r := openStoreAt(t, target, nil)
	for i := 0; i < 20; i++ {
		if _, err := r.UserByEmail(ctx, fmt.Sprintf("before-%d@example.com", i)); err != nil {
			t.Fatalf("user acknowledged before the backup is missing: %v", err)
		}
	}
}

func TestRestoreRefusesADamagedBackupAndKeepsTheOldDatabase(t *testing.T) {
	dir := t.TempDir()
	s := openStoreAt(t, filepath.Join(dir, "a.duckdb"), nil)
	mustCreateUser(t, s, "one@example.com", "user")
	path, _, err := s.backup(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(filepath.Join(path, BackupFile), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("garbage"))
	f.Close()
	if _, _, err := Restore(context.Background(), path, filepath.Join(dir, "b.duckdb")); err == nil {
		t.Fatal("damaged backup restored")
	}
	if _, err := os.Stat(filepath.Join(dir, "b.duckdb")); !os.IsNotExist(err) {
		t.Fatal("a refused restore left a database behind")
	}
}

func TestPruneKeepsTheNewestBackups(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"backup-20260101T000000Z", "backup-20260102T000000Z", "backup-20260103T000000Z", "unrelated"} {
		os.Mkdir(filepath.Join(dir, name), 0o755)
	}
	if err := pruneBackups(dir, 2); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if fmt.Sprint(names) != "[backup-20260102T000000Z backup-20260103T000000Z unrelated]" {
		t.Fatalf("left %v", names)
	}
}
