package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// The migrations of this engine: numbered like DuckDB's, one file per
// logical change of the schema, so a version means the same tables on both
// engines (an export carries it; an import checks it).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("store: migration %s: name must be NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: version, name: name, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// LatestSchema is the schema version this binary knows.
func LatestSchema() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// LatestSchema is the schema version this binary knows.
func (s *Store) LatestSchema() int { return LatestSchema() }

// SchemaVersion is the version the database is at (0 for a new database).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v *int
	if err := s.pool.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// migrateLock serialises migrations across replicas.
const migrateLock = "migrate"

// migrate applies every pending migration, each in its own transaction,
// holding a session advisory lock on a connection of its own: replicas that
// start together wait for the first, then find nothing left to do. A
// database whose schema is newer than the binary is left alone.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	conn, err := pgx.ConnectConfig(ctx, s.conn)
	if err != nil {
		return fmt.Errorf("store: migrations: connect to %s: %w", describe(s.conn), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", lockNamespace, lockKey(migrateLock)); err != nil {
		return fmt.Errorf("store: migrations: lock: %w", err)
	}
	// Closing the connection releases the lock too; unlock first so the
	// next replica need not wait for the close to reach the server.
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, $2)", lockNamespace, lockKey(migrateLock))
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	latest := LatestSchema()
	if current > latest {
		return fmt.Errorf("%w: the database is at schema version %d, this binary knows up to %d; run a newer backend",
			model.ErrSchemaTooNew, current, latest)
	}
	for _, m := range ms {
		if m.version <= current || (upTo > 0 && m.version > upTo) {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("store: migration %04d_%s: %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.version, m.name, s.now()); err != nil {
				return fmt.Errorf("store: record migration %d: %w", m.version, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.log.Info("applied migration", "version", m.version, "name", m.name)
	}
	return nil
}
