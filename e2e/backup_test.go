package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// TestOnlineBackupRestoresEveryAcknowledgedUser takes a backup through the
// API while registrations keep arriving, restores it into a fresh data
// directory with the operator command, and starts a backend there.
func TestOnlineBackupRestoresEveryAcknowledgedUser(t *testing.T) {
	dir := t.TempDir()
	b := StartBackend(t, dir, "BACKUP_DIR="+filepath.Join(dir, "backups"))
	c := client.New(b.URL)
	admin := signIn(t, c, AdminEmail, AdminPassword)
	ctx := context.Background()

	var mu sync.Mutex
	var acknowledged []string // answered before the backup was asked for
	var backupStarted atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
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
				email := fmt.Sprintf("w%d-%d@example.com", w, i)
				if _, err := c.Register(ctx, api.RegisterRequest{Email: email, Password: "password-1"}); err != nil {
					t.Errorf("register during backup: %v", err)
					return
				}
				if !backupStarted.Load() { // answered before the backup was asked for
					mu.Lock()
					acknowledged = append(acknowledged, email)
					mu.Unlock()
				}
			}
		}()
	}
	for len(snapshot(&mu, &acknowledged)) < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	backupStarted.Store(true)
	res, err := admin.Backup(ctx)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes == 0 || !strings.HasPrefix(res.Path, filepath.Join(dir, "backups")) {
		t.Fatalf("backup result %+v", res)
	}
	b.Stop(t)

	fresh := t.TempDir()
	cmd := exec.Command(Binary(t, "backend"), "db", "restore", "--from", res.Path)
	cmd.Dir = fresh
	cmd.Env = append(minimalEnv(), BackendEnv(fresh, FreeAddr(t))...)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "restored") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	r := StartBackend(t, fresh)
	rc := client.New(r.URL)
	radmin := signIn(t, rc, AdminEmail, AdminPassword)
	list, err := radmin.ListUsers(ctx, client.ListUsersParams{Limit: 200, Query: "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for off := 0; off < list.Total; off += 200 {
		page, err := radmin.ListUsers(ctx, client.ListUsersParams{Limit: 200, Offset: off, Query: "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Items {
			have[u.Email] = true
		}
	}
	for _, email := range acknowledged {
		if !have[email] {
			t.Errorf("user acknowledged before the backup is missing after restore: %s", email)
		}
	}
}

// TestOfflineBackupOfAStoppedBackend uses the operator command.
func TestOfflineBackupOfAStoppedBackend(t *testing.T) {
	dir := t.TempDir()
	b := StartBackend(t, dir)
	burst(t, client.New(b.URL), "offline", 3)
	b.Stop(t)
	cmd := exec.Command(Binary(t, "backend"), "db", "backup", "--out", filepath.Join(dir, "snap"))
	cmd.Dir = dir
	cmd.Env = append(minimalEnv(), BackendEnv(dir, FreeAddr(t))...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "4 users") {
		t.Fatalf("offline backup: %v\n%s", err, out)
	}
}

func snapshot(mu *sync.Mutex, s *[]string) []string {
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), *s...)
}
