package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// The writer is the one place the database is written. Callers queue a write
// (a function of a transaction) and wait; the writer drains the queue, runs
// every queued write in order inside one transaction and commits once, then
// answers each caller. One fsync then acknowledges many writes (group
// commit), which is what lifts DuckDB past its ~300 transactions/s here.
//
// A write reports a domain outcome (model.ErrEmailTaken, model.ErrTokenReused, …) by
// returning a rule error: the batch goes on and commits whatever the write
// did before deciding. Any other error is a fault: the whole batch rolls back
// and each write is retried alone, so one bad write cannot fail its
// neighbours and nothing half-done is ever committed.

// Tx is a write in progress. Its statements run inside the batch's
// transaction; AfterCommit registers in-memory effects (cache updates) that
// happen only once the batch is durable, still under the write lock.
type Tx struct {
	ctx   context.Context
	w     *writer
	conn  *sql.Conn   // the writer's connection, inside BEGIN … COMMIT
	st    *statements // prepared on conn
	s     *Store
	after []func()

	// Sessions ended by earlier writes of this batch. The session cache
	// changes only after commit, so later writes of the same batch (a
	// rotation after a logout) must ask here too.
	revokedFamilies map[uuid.UUID]bool
	revokedUsers    map[uuid.UUID]uuid.UUID // user → the one session kept (or uuid.Nil)

	// Sign-in failure counts written by earlier writes of this batch.
	throttle map[string]throttleRow
	// Users whose email or existence earlier writes of this batch changed:
	// the user cache does not know yet.
	changedUser map[uuid.UUID]bool
}

// revokeFamily ends a session: its tokens are revoked in the table, later
// writes of this batch see it ended, and the cache forgets it on commit.
func (t *Tx) revokeFamily(family uuid.UUID) error {
	if _, err := t.exec(t.st.revokeFamily, t.s.now(), family); err != nil {
		return fmt.Errorf("store: revoke session: %w", err)
	}
	if t.revokedFamilies == nil {
		t.revokedFamilies = map[uuid.UUID]bool{}
	}
	t.revokedFamilies[family] = true
	t.AfterCommit(func() { t.s.sessions.drop(family) })
	return nil
}

// revokeUser ends every session of user but keep (uuid.Nil keeps none):
// after a deletion or a password change. It goes by user, not by the cached
// list of sessions, so a sign-in earlier in this batch is ended too.
func (t *Tx) revokeUser(user, keep uuid.UUID) error {
	var err error
	if keep == uuid.Nil {
		_, err = t.exec(t.st.revokeUserTokens, t.s.now(), user)
	} else {
		_, err = t.conn.ExecContext(t.ctx, `UPDATE refresh_tokens SET status = 'revoked', revoked_at = coalesce(revoked_at, ?)
			WHERE user_id = ? AND family_id <> ?`, t.s.now(), user, keep)
	}
	if err != nil {
		return fmt.Errorf("store: revoke sessions of user: %w", err)
	}
	if t.revokedUsers == nil {
		t.revokedUsers = map[uuid.UUID]uuid.UUID{}
	}
	t.revokedUsers[user] = keep
	t.AfterCommit(func() { t.s.sessions.dropUser(user, keep) })
	return nil
}

// ended reports whether an earlier write of this batch ended the session.
func (t *Tx) ended(family, user uuid.UUID) bool {
	if keep, ok := t.revokedUsers[user]; ok && family != keep {
		return true
	}
	return t.revokedFamilies[family]
}

// userChanged notes that this batch changed user's row (email, deletion).
func (t *Tx) userChanged(user uuid.UUID) {
	if t.changedUser == nil {
		t.changedUser = map[uuid.UUID]bool{}
	}
	t.changedUser[user] = true
}

// AfterCommit runs fn once the transaction holding this write has committed.
func (t *Tx) AfterCommit(fn func()) { t.after = append(t.after, fn) }

func (t *Tx) exec(stmt *sql.Stmt, args ...any) (sql.Result, error) {
	return stmt.ExecContext(t.ctx, args...)
}

func (t *Tx) queryRow(stmt *sql.Stmt, args ...any) *sql.Row {
	return stmt.QueryRowContext(t.ctx, args...)
}

// appendRows bulk-inserts rows through DuckDB's appender, inside the
// transaction: ~10 µs a row where a multi-row INSERT costs ~200. The writer
// keeps one appender per table open on its connection and flushes it into
// the current transaction, because creating one costs ~1.4 ms.
func (t *Tx) appendRows(table string, columns []string, rows [][]driver.Value) error {
	return t.conn.Raw(func(dc any) error {
		app, key, err := t.w.appender(dc, table, columns)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err = app.AppendRow(row...); err != nil {
				break
			}
		}
		if err == nil {
			err = app.Flush()
		}
		if err != nil {
			t.w.dropAppender(key) // its state is unknown now; the batch rolls back
			return fmt.Errorf("store: append to %s: %w", table, err)
		}
		return nil
	})
}

// appender returns the writer's open appender for table and these columns
// (an import fills more columns than a sign-in), creating it on first use,
// and its key. Only the writer goroutine calls it, inside conn.Raw.
func (w *writer) appender(dc any, table string, columns []string) (*duckdb.Appender, string, error) {
	key := table + "(" + strings.Join(columns, ",") + ")"
	if app, ok := w.appenders[key]; ok {
		return app, key, nil
	}
	conn, ok := dc.(driver.Conn)
	if !ok {
		return nil, key, fmt.Errorf("store: appender: unexpected driver connection %T", dc)
	}
	app, err := duckdb.NewAppenderWithColumns(conn, "", "", table, columns)
	if err != nil {
		return nil, key, fmt.Errorf("store: appender for %s: %w", table, err)
	}
	w.appenders[key] = app
	return app, key, nil
}

func (w *writer) dropAppender(key string) {
	if app, ok := w.appenders[key]; ok {
		_ = app.Clear()
		_ = app.Close()
		delete(w.appenders, key)
	}
}

// ruleError marks an expected domain outcome of a write; see above.
type ruleError struct{ err error }

func (r ruleError) Error() string { return r.err.Error() }
func (r ruleError) Unwrap() error { return r.err }

func rule(err error) error { return ruleError{err} }

func isRule(err error) bool {
	var r ruleError
	return errors.As(err, &r)
}

type writeOp struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
	// rotation ops are applied together: consecutive rotations in a batch
	// share three statements instead of three each (see rotateRun).
	rotation *rotationJob
	// exclusive ops get the connection outside any transaction (CHECKPOINT).
	exclusive func(*sql.Conn) error
}

type writer struct {
	s         *Store
	conn      *sql.Conn
	st        *statements                 // prepared on conn
	appenders map[string]*duckdb.Appender // by table and columns, open on conn
	queue     chan *writeOp
	quit      chan struct{}
	stopped   chan struct{}
	maxBatch  int
	ckptEvery time.Duration
	dirty     bool

	commits, writes atomic.Int64 // for WriterStats
}

// WriterStats reports how many transactions the writer committed and how
// many writes they carried: their ratio is the group-commit batch size.
func (s *Store) WriterStats() (commits, writes int64) {
	return s.w.commits.Load(), s.w.writes.Load()
}

func startWriter(ctx context.Context, s *Store, opts Options) (*writer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: writer connection: %w", err)
	}
	st, err := prepare(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	w := &writer{
		s: s, conn: conn, st: st, appenders: map[string]*duckdb.Appender{},
		queue:     make(chan *writeOp, 4096),
		quit:      make(chan struct{}),
		stopped:   make(chan struct{}),
		maxBatch:  opts.MaxBatch,
		ckptEvery: opts.CheckpointEvery,
	}
	go w.loop()
	return w, nil
}

// write queues fn and waits until it is committed (or failed). If ctx ends
// before the write was applied, the write is dropped and never committed.
func (s *Store) write(ctx context.Context, fn func(*Tx) error) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	return s.w.submit(op)
}

func (w *writer) exclusive(ctx context.Context, fn func(*sql.Conn) error) error {
	return w.submit(&writeOp{ctx: ctx, exclusive: fn, done: make(chan error, 1)})
}

func (w *writer) submit(op *writeOp) error {
	select {
	case <-w.quit:
		return model.ErrClosed
	default:
	}
	select {
	case w.queue <- op:
	case <-w.quit:
		return model.ErrClosed
	case <-op.ctx.Done():
		return op.ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the write may
	// already be in a committed batch, and the caller must learn which.
	err := <-op.done
	var r ruleError
	if errors.As(err, &r) {
		return r.err
	}
	return err
}

func (w *writer) stop() {
	close(w.quit)
	<-w.stopped
}

func (w *writer) loop() {
	defer close(w.stopped)
	defer w.conn.Close()
	defer w.st.close()
	defer func() {
		_ = w.conn.Raw(func(any) error {
			for key := range w.appenders {
				w.dropAppender(key)
			}
			return nil
		})
	}()
	ticker := time.NewTicker(w.ckptEvery)
	defer ticker.Stop()
	batch := make([]*writeOp, 0, w.maxBatch)
	for {
		select {
		case op := <-w.queue:
			batch = append(batch[:0], op)
			batch = w.drain(batch)
			w.run(batch)
		case <-ticker.C:
			w.checkpoint()
		case <-w.quit:
			// Finish what was queued before the stop.
			for {
				select {
				case op := <-w.queue:
					w.run(w.drain(append(batch[:0], op)))
				default:
					return
				}
			}
		}
	}
}

func (w *writer) drain(batch []*writeOp) []*writeOp {
	for len(batch) < w.maxBatch {
		select {
		case op := <-w.queue:
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

// run applies a batch: plain writes share a transaction, an exclusive op
// runs on its own between them.
func (w *writer) run(batch []*writeOp) {
	start := 0
	for i, op := range batch {
		if op.exclusive != nil {
			w.commitGroup(batch[start:i])
			op.done <- op.exclusive(w.conn)
			start = i + 1
		}
	}
	w.commitGroup(batch[start:])
}

func (w *writer) commitGroup(ops []*writeOp) {
	var live []*writeOp
	for _, op := range ops {
		if err := op.ctx.Err(); err != nil {
			op.done <- err // the caller left before its write began: drop it
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	results, after, err := w.apply(live)
	if err != nil && len(live) > 1 {
		// One write failed the batch; find it by running each alone.
		for _, op := range live {
			res, aft, err := w.apply([]*writeOp{op})
			if err != nil {
				op.done <- err
				continue
			}
			runAll(aft)
			op.done <- res[0]
		}
		return
	}
	if err != nil {
		live[0].done <- err
		return
	}
	w.dirty = true
	w.commits.Add(1)
	w.writes.Add(int64(len(live)))
	runAll(after)
	for i, op := range live {
		op.done <- results[i]
	}
}

// apply runs ops in one transaction. It returns each op's outcome and the
// after-commit hooks, or a fault that rolled everything back.
func (w *writer) apply(ops []*writeOp) ([]error, []func(), error) {
	ctx := context.Background() // a caller leaving must not abort its neighbours' commit
	// The transaction is driven with plain SQL on the pinned connection, so
	// statements prepared on it run as they are and the appender (which
	// needs the raw driver connection) joins the same transaction.
	if _, err := w.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, nil, fmt.Errorf("store: begin: %w", err)
	}
	rollback := func() { _, _ = w.conn.ExecContext(ctx, "ROLLBACK") }
	results := make([]error, len(ops))
	t := &Tx{ctx: ctx, w: w, conn: w.conn, st: w.st, s: w.s}
	for i := 0; i < len(ops); {
		if ops[i].rotation != nil {
			j := i
			for j < len(ops) && ops[j].rotation != nil {
				j++
			}
			if err := w.s.rotateRun(t, ops[i:j], results[i:j]); err != nil {
				rollback()
				return nil, nil, err
			}
			i = j
			continue
		}
		err := ops[i].fn(t)
		if err != nil && !isRule(err) {
			rollback()
			return nil, nil, err
		}
		results[i] = err
		i++
	}
	after := t.after
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		rollback()
		return nil, nil, fmt.Errorf("store: commit: %w", err)
	}
	return results, after, nil
}

func runAll(fns []func()) {
	for _, fn := range fns {
		fn()
	}
}

func (w *writer) checkpoint() {
	if !w.dirty {
		return
	}
	if _, err := w.conn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
		w.s.log.Warn("checkpoint failed; will retry", "err", err)
		return
	}
	w.dirty = false
}
