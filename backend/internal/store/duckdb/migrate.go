package duckdb

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/store/migration"
)

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
	return schemaVersion(ctx, s.db)
}

func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// Migrate applies every pending migration, each in its own transaction, and
// refuses to touch a database whose schema is newer than the binary.
func (s *Store) Migrate(ctx context.Context) error { return s.migrate(ctx) }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	current, err := schemaVersion(ctx, s.db)
	if err != nil {
		return err
	}
	latest := LatestSchema()
	if current > latest {
		return fmt.Errorf("%w: the database is at schema version %d, this binary knows up to %d; run a newer backend",
			model.ErrSchemaTooNew, current, latest)
	}
	// Every migration not recorded yet is applied, not only those above the
	// highest recorded: migrations written on parallel branches land out of
	// order (0004 and 0006 before 0005), and a database already at 0006
	// must still get 0005.
	applied, err := appliedVersions(ctx, s.db)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if err := s.apply(ctx, m); err != nil {
			return err
		}
		s.log.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	return nil
}

func appliedVersions(ctx context.Context, db *sql.DB) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("store: read applied migrations: %w", err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: read applied migrations: %w", err)
		}
		out[v] = true
	}
	return out, rows.Err()
}

func (s *Store) apply(ctx context.Context, m migration.Migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migration %d: begin: %w", m.Version, err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit: sql.ErrTxDone, harmless
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("store: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.Version, m.Name, s.now()); err != nil {
		return fmt.Errorf("store: record migration %d: %w", m.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %d: commit: %w", m.Version, err)
	}
	return nil
}
