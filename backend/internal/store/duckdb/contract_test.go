package duckdb

import (
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/store/storetest"
)

// TestContract runs the storage contract on a real DuckDB file per case.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t testing.TB, now func() time.Time) storetest.Store {
		return openStoreAt(t, "", now)
	})
}
