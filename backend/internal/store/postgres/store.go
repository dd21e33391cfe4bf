// Package postgres is the storage engine for several backend replicas on
// one PostgreSQL database: the same store interfaces as the DuckDB engine,
// through pgx (pgxpool; no ORM).
//
// Where DuckDB serialises every write through one in-process writer, here
// each invariant is one transaction or one conditional statement that any
// replica may run at any time: a rotation is a single UPDATE … WHERE
// token_hash = the presented token (row locks let one of many concurrent
// rotations win), "never zero admins" counts admins under a transaction-
// scoped advisory lock, "one account per email" is a unique index, and
// sign-in failures are upserted under row locks.
//
// Each replica keeps small caches for the hot authorisation path (users and
// session liveness). They are invalidated through LISTEN/NOTIFY: every
// transaction that changes a user or ends a session notifies, and a
// dedicated connection per replica listens. Entries also expire after a
// short TTL, and the caches are bypassed while the listening connection is
// down, so an entry a lost notification left behind cannot outlive that
// bound.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// Options tune a store; the zero value is production's defaults.
type Options struct {
	Logger *slog.Logger
	// Now is the clock of the data (tests inject one). Cache lifetimes use
	// the real clock.
	Now func() time.Time
	// MaxConns bounds the pool (default 16). The listening and leadership
	// connections are extra.
	MaxConns int
	// StatementTimeout bounds every statement of the pool (0: no bound).
	StatementTimeout time.Duration
	// CacheTTL bounds how long a cached user or session state is believed
	// without a notification (default 500ms; at most 1s).
	CacheTTL time.Duration
	// schemaUpTo stops migrations at this version (tests of upgrades).
	schemaUpTo int
}

// Store is the backend's database on PostgreSQL.
type Store struct {
	pool     *pgxpool.Pool
	conn     *pgx.ConnConfig // for the dedicated connections (listening, leadership, migrations)
	log      *slog.Logger
	now      func() time.Time
	cache    *cache
	listener *listener
}

// Open connects to the database at url, applies pending migrations (under
// an advisory lock, so replicas starting together migrate once), and starts
// listening for cache invalidations.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Now().UTC() }
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 500 * time.Millisecond
	}
	opts.CacheTTL = min(opts.CacheTTL, time.Second)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message redacts the password.
		return nil, fmt.Errorf("store: DATABASE_URL: %w", err)
	}
	cfg.MaxConns = int32(min(opts.MaxConns, 1<<20)) //nolint:gosec // bounded on this line
	params := cfg.ConnConfig.RuntimeParams
	params["application_name"] = "duckgate-backend"
	// Times are stored as timestamptz and read back as instants; UTC keeps
	// anything the server formats (the usage report's days) in UTC too.
	params["timezone"] = "UTC"
	if opts.StatementTimeout > 0 {
		params["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	// Dedicated connections (listening, leadership, migrations) wait as long
	// as they need: no statement timeout.
	dedicated := cfg.ConnConfig.Copy()
	delete(dedicated.RuntimeParams, "statement_timeout")

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to %s: %w", describe(cfg.ConnConfig), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", describe(cfg.ConnConfig), err)
	}
	s := &Store{pool: pool, conn: dedicated, log: opts.Logger, now: opts.Now, cache: newCache(opts.CacheTTL)}
	if err := s.migrate(ctx, opts.schemaUpTo); err != nil {
		pool.Close()
		return nil, err
	}
	s.listener = startListener(s, dedicated)
	if err := s.listener.waitListening(ctx); err != nil {
		s.listener.stop()
		pool.Close()
		return nil, err
	}
	return s, nil
}

// describe names a database without its password, for messages.
func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("PostgreSQL at %s:%d, database %s as %s", c.Host, c.Port, c.Database, c.User)
}

// Close stops listening and closes every connection.
func (s *Store) Close() error {
	s.listener.stop()
	s.pool.Close()
	return nil
}

// Engine names this storage engine.
func (s *Store) Engine() string { return "postgres" }

// Pool exposes the pool for metrics (connection statistics) only.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping runs a trivial query and reports how long it took.
func (s *Store) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return 0, fmt.Errorf("store: ping: %w", err)
	}
	return time.Since(start), nil
}

// Backup is DuckDB's: PostgreSQL is backed up with its own tools.
func (s *Store) Backup(context.Context, string) (model.Backup, error) {
	return model.Backup{}, model.ErrBackupUnsupported
}

// PruneBackups is DuckDB's, like Backup.
func (s *Store) PruneBackups(context.Context, string, int) error {
	return model.ErrBackupUnsupported
}

// tx is a transaction in progress and the cache invalidations it will
// announce: NOTIFY is delivered to the other replicas at commit, and this
// replica applies them itself once the commit succeeded.
type tx struct {
	pgx.Tx
	ctx   context.Context
	s     *Store
	notes []string
}

// ruleError marks an expected domain outcome (model.ErrTokenReused, …)
// whose transaction still commits what it recorded (the family revocation,
// the audit entry); any other error rolls back.
type ruleError struct{ err error }

func (r ruleError) Error() string { return r.err.Error() }
func (r ruleError) Unwrap() error { return r.err }

func rule(err error) error { return ruleError{err} }

// inTx runs fn in a transaction (READ COMMITTED) and commits unless fn
// failed; a rule outcome commits and is returned.
func (s *Store) inTx(ctx context.Context, fn func(t *tx) error) error {
	ptx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	t := &tx{Tx: ptx, ctx: ctx, s: s}
	err = fn(t)
	var r ruleError
	if err != nil && !errors.As(err, &r) {
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if cerr := ptx.Commit(ctx); cerr != nil {
		return fmt.Errorf("store: commit: %w", cerr)
	}
	for _, n := range t.notes {
		s.cache.apply(n)
	}
	if err != nil {
		return r.err
	}
	return nil
}

// exec runs a statement of the transaction.
func (t *tx) exec(sql string, args ...any) (pgconn.CommandTag, error) {
	return t.Exec(t.ctx, sql, args...)
}

func (t *tx) queryRow(sql string, args ...any) pgx.Row {
	return t.QueryRow(t.ctx, sql, args...)
}

// notify announces a cache invalidation to every replica at commit.
func (t *tx) notify(note string) error {
	if _, err := t.exec("SELECT pg_notify($1, $2)", notifyChannel, note); err != nil {
		return fmt.Errorf("store: notify: %w", err)
	}
	t.notes = append(t.notes, note)
	return nil
}

// Advisory lock keys: the two-int form, in a namespace of ours ("dukg"), so
// other applications' advisory locks on the same database do not collide.
const lockNamespace int32 = 0x64756b67

// lockKey maps a name to the second half of an advisory lock key (FNV-1a).
func lockKey(name string) int32 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return int32(h) //nolint:gosec // a hash: wrapping is intended
}

// lockXact takes a transaction-scoped advisory lock (released at commit).
func (t *tx) lockXact(name string) error {
	if _, err := t.exec("SELECT pg_advisory_xact_lock($1, $2)", lockNamespace, lockKey(name)); err != nil {
		return fmt.Errorf("store: lock %s: %w", name, err)
	}
	return nil
}

// isUniqueViolation reports a unique index refusing a row (SQLSTATE 23505)
// on the named constraint ("" for any).
func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}

// utc is a scanned instant in UTC, for values that compare and print like
// the DuckDB engine's.
func utc(t time.Time) time.Time { return t.UTC() }

// micro is a time as stored: PostgreSQL keeps microseconds.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullable is an optional text column's value: NULL for "".
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	s = clean(s)
	return &s
}

// clean makes text storable: PostgreSQL's text cannot hold NUL, which
// clients can send inside JSON strings and paths (\u0000, %00). DuckDB
// stores it verbatim; here it becomes U+FFFD, on the way in and in every
// lookup alike, so such a value neither fails a write nor matches anything
// it should not.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

func cleanAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clean(s)
	}
	return out
}

func text(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
