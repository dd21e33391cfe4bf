package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/duckgate/duckgate/backend/internal/accounts"
	"github.com/duckgate/duckgate/backend/internal/admin"
	"github.com/duckgate/duckgate/backend/internal/ai"
	"github.com/duckgate/duckgate/backend/internal/apikeys"
	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/budgets"
	"github.com/duckgate/duckgate/backend/internal/config"
	"github.com/duckgate/duckgate/backend/internal/store/duckdb"
	"github.com/duckgate/duckgate/backend/internal/users"
	"github.com/duckgate/duckgate/backend/internal/workspace"
)

// database is everything the services need from storage: the union of the
// interfaces each of them declares, plus the lifecycle main drives. Each
// engine under internal/store implements it.
type database interface {
	auth.Store
	users.Store
	admin.Store
	ai.Store
	workspace.Store
	accounts.Store
	apikeys.Store
	budgets.Store
	// SchemaVersion is the schema the database is at; LatestSchema the one
	// this binary knows (readiness compares them).
	SchemaVersion(ctx context.Context) (int, error)
	LatestSchema() int
	Close() error
}

// storage is an open database and what the edge reports about it.
type storage struct {
	database
	engine  string               // "duckdb"
	metrics prometheus.Collector // connection pool statistics
}

// openDatabase opens the configured engine and migrates it.
func openDatabase(ctx context.Context, cfg config.Config, logger *slog.Logger) (*storage, error) {
	st, err := duckdb.Open(ctx, cfg.DuckDBPath, duckdb.Options{Logger: logger})
	if err != nil {
		return nil, explainLock(err)
	}
	return &storage{database: st, engine: "duckdb", metrics: collectors.NewDBStatsCollector(st.DB(), "duckdb")}, nil
}

// readiness reports the database reachable and its schema current.
func readiness(db *storage) func(ctx context.Context) map[string]string {
	return func(ctx context.Context) map[string]string {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		v, err := db.SchemaVersion(ctx)
		switch {
		case err != nil:
			return map[string]string{db.engine: "unreachable"}
		case v < db.LatestSchema():
			return map[string]string{db.engine: fmt.Sprintf("schema %d behind %d", v, db.LatestSchema())}
		}
		return map[string]string{db.engine: "ok"}
	}
}
