package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/store/storetest"
	"github.com/duckgate/duckgate/shared/pgtest"
)

// pg is this package's throwaway PostgreSQL server, started by the first
// test that needs it and stopped after the last.
var pg pgtest.Lazy

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// openStore opens a store on a fresh database with the clock now (the real
// one when nil), closed when the test ends.
func openStore(t testing.TB, now func() time.Time) *Store {
	t.Helper()
	return openStoreAt(t, pg.Database(t), Options{Now: now})
}

func openStoreAt(t testing.TB, url string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the storage contract on a fresh database per case.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t testing.TB, now func() time.Time) storetest.Store {
		return openStore(t, now)
	})
}
