package e2e

import (
	"os"
	"testing"
)

// TestMain stops the PostgreSQL server the tests started, if any.
func TestMain(m *testing.M) {
	code := m.Run()
	Postgres.Stop()
	os.Exit(code)
}
