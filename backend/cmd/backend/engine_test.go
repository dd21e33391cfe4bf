package main

import (
	"os"
	"sync"
	"testing"

	"github.com/duckgate/duckgate/shared/pgtest"
)

// The API tests run on DuckDB, and on PostgreSQL when DUCKGATE_TEST_ENGINE
// is "postgres" (make test runs this package both ways). The tests in
// postgres_api_test.go run on PostgreSQL always.

// pg is this package's throwaway PostgreSQL server, started on first use.
var pg pgtest.Lazy

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

func testEngine() string {
	if os.Getenv("DUCKGATE_TEST_ENGINE") == "postgres" {
		return "postgres"
	}
	return "duckdb"
}

var (
	databasesMu sync.Mutex
	databases   = map[string]string{} // test data directory → database URL
)

// postgresFor is the database of a test's data directory: a fresh one the
// first time, the same one again for a restart on that directory.
func postgresFor(t testing.TB, dir string) string {
	t.Helper()
	databasesMu.Lock()
	defer databasesMu.Unlock()
	if url, ok := databases[dir]; ok {
		return url
	}
	url := pg.Database(t)
	databases[dir] = url
	return url
}
