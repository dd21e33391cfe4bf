package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/store/migration"
)

// The migrations of this engine: numbered like DuckDB's, one file per
// logical change of the schema, so a version means the same tables on both
// engines (an export carries it; an import checks it).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations lists the embedded files NNNN_name.sql in version order.
func migrations() ([]migration.Migration, error) { return migration.Read(migrationFiles) }

// LatestSchema is the schema version this binary knows.
func LatestSchema() int { return migration.Latest(migrationFiles) }

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
		if m.Version <= current || (upTo > 0 && m.Version > upTo) {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("store: migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.Version, m.Name, s.now()); err != nil {
				return fmt.Errorf("store: record migration %d: %w", m.Version, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.log.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	return nil
}
