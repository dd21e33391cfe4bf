package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/duckgate/duckgate/backend/internal/accounts"
	"github.com/duckgate/duckgate/backend/internal/admin"
	"github.com/duckgate/duckgate/backend/internal/ai"
	"github.com/duckgate/duckgate/backend/internal/apikeys"
	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/background"
	"github.com/duckgate/duckgate/backend/internal/budgets"
	"github.com/duckgate/duckgate/backend/internal/config"
	"github.com/duckgate/duckgate/backend/internal/store/duckdb"
	"github.com/duckgate/duckgate/backend/internal/store/postgres"
	"github.com/duckgate/duckgate/backend/internal/store/transfer"
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
	// Export and Import move the whole database in the engine-neutral form
	// of package transfer (backend db export / import).
	Export(ctx context.Context, w *transfer.Writer) error
	Import(ctx context.Context, r *transfer.Reader) error
	Close() error
}

// storage is an open database and what the edge reports about it.
type storage struct {
	database
	engine  string               // "duckdb" or "postgres"
	where   string               // the file, or the URL without its password: for logs
	metrics prometheus.Collector // connection pool statistics
	// leader decides which replica runs the background jobs: always this
	// process on DuckDB, an advisory lock's holder on PostgreSQL.
	leader background.Leader
}

// openDatabase opens the configured engine and migrates it: PostgreSQL when
// DATABASE_URL is set, else DuckDB at DUCKDB_PATH.
func openDatabase(ctx context.Context, cfg config.Config, logger *slog.Logger) (*storage, error) {
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Logger: logger, MaxConns: cfg.DatabaseMaxConns,
			StatementTimeout: cfg.DatabaseStatementTimeout})
		if err != nil {
			return nil, err
		}
		return &storage{database: st, engine: st.Engine(), where: config.Redacted(cfg.DatabaseURL), metrics: st.Metrics(), leader: st}, nil
	}
	st, err := duckdb.Open(ctx, cfg.DuckDBPath, duckdb.Options{Logger: logger})
	if err != nil {
		return nil, explainLock(err)
	}
	return &storage{database: st, engine: st.Engine(), where: cfg.DuckDBPath,
		metrics: collectors.NewDBStatsCollector(st.DB(), "duckdb"), leader: background.Always{}}, nil
}

// readiness reports the database reachable and its schema current, with
// the schema version this replica sees (checks: {"<engine>": "ok",
// "schema": "3"}).
func readiness(db *storage) func(ctx context.Context) (map[string]string, bool) {
	return func(ctx context.Context) (map[string]string, bool) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		v, err := db.SchemaVersion(ctx)
		switch {
		case err != nil:
			return map[string]string{db.engine: "unreachable"}, false
		case v < db.LatestSchema():
			return map[string]string{db.engine: fmt.Sprintf("schema %d behind %d", v, db.LatestSchema()), "schema": strconv.Itoa(v)}, false
		}
		return map[string]string{db.engine: "ok", "schema": strconv.Itoa(v)}, true
	}
}
