package auth

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Replicas sharing one key file start together: every one of them ends up
// with the same key, and the file is complete and private.
func TestKeyCreatedOnceByConcurrentStarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "jwt-ed25519.pem")
	const n = 8
	keys := make([][]byte, n)
	var created int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, c, err := LoadOrCreateKey(path)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			keys[i] = k
			if c {
				created++
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d processes say they created the key, want 1", created)
	}
	for i := range keys {
		if string(keys[i]) != string(keys[0]) {
			t.Fatalf("start %d got another key", i)
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v; want mode 0600", st.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("temporary files left beside the key: %d entries", len(entries))
	}
}
