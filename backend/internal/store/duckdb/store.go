// Package duckdb is the embedded storage engine: it owns the DuckDB file,
// migrates it, and holds the SQL of every store interface the services
// declare. Writes go through one writer goroutine that commits
// queued writes together (group commit); reads run concurrently on the pool.
// Users and live sessions are cached in memory and kept coherent by the
// writer, so the hot authorisation path never queries the database.
package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver
)

// Options tune a store; the zero value is production's defaults.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (tests inject one).
	Now func() time.Time
	// CheckpointEvery is how often the writer checkpoints the WAL into the
	// database file (default 60s), so a crash replays little WAL.
	CheckpointEvery time.Duration
	// MaxBatch bounds how many queued writes share one commit (default 256).
	MaxBatch int
}

// Store is the backend's database.
type Store struct {
	db       *sql.DB
	log      *slog.Logger
	now      func() time.Time
	w        *writer
	stmts    *statements
	users    *userCache
	sessions *sessionCache
	throttle *throttleCache
	keys     *keyCache
	budgets  *budgetCache
	spend    *spendCache
}

// Open opens (creating if needed) the database at path, applies pending
// migrations, warms the session cache and starts the writer.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Now().UTC() }
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = time.Minute
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 256
	}
	if path != ":memory:" && path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("store: create directory of %s: %w", path, err)
		}
	}
	db, err := sql.Open("duckdb", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// Readers run concurrently (MVCC); writes are serialised by the writer,
	// which pins one of these connections.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, log: opts.Logger, now: opts.Now, users: newUserCache(), sessions: newSessionCache(),
		keys: newKeyCache(), budgets: newBudgetCache(), spend: newSpendCache()}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.stmts, err = prepare(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadSessions(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s.throttle = &throttleCache{rows: map[string]throttleRow{}}
	if err := s.loadThrottle(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadKeys(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.w, err = startWriter(ctx, s, opts); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func dsn(path string) string {
	if path == ":memory:" {
		return ""
	}
	return path
}

// Close drains the writer, checkpoints and closes the database.
func (s *Store) Close() error {
	s.w.stop()
	_, _ = s.db.Exec("CHECKPOINT")
	s.stmts.close()
	return s.db.Close()
}

// Engine names this storage engine.
func (s *Store) Engine() string { return "duckdb" }

// DB exposes the pool for metrics (connection statistics) only.
func (s *Store) DB() *sql.DB { return s.db }

// Ping runs a trivial query and reports how long it took.
func (s *Store) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return 0, fmt.Errorf("store: ping: %w", err)
	}
	return time.Since(start), nil
}
