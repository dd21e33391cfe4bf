package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The writer is the one place the database is written. Callers queue a write
// (a function of a transaction) and wait; the writer drains the queue, runs
// every queued write in order inside one transaction and commits once, then
// answers each caller. One fsync then acknowledges many writes (group
// commit), which is what lifts DuckDB past its ~300 transactions/s here.
//
// A write reports a domain outcome (ErrEmailTaken, ErrTokenReused, …) by
// returning a rule error: the batch goes on and commits whatever the write
// did before deciding. Any other error is a fault: the whole batch rolls back
// and each write is retried alone, so one bad write cannot fail its
// neighbours and nothing half-done is ever committed.

// Tx is a write in progress. Its statements run inside the batch's
// transaction; AfterCommit registers in-memory effects (cache updates) that
// happen only once the batch is durable, still under the write lock.
type Tx struct {
	ctx   context.Context
	tx    *sql.Tx
	s     *Store
	after []func()
}

// AfterCommit runs fn once the transaction holding this write has committed.
func (t *Tx) AfterCommit(fn func()) { t.after = append(t.after, fn) }

func (t *Tx) exec(stmt *sql.Stmt, args ...any) (sql.Result, error) {
	return t.tx.StmtContext(t.ctx, stmt).ExecContext(t.ctx, args...)
}

func (t *Tx) queryRow(stmt *sql.Stmt, args ...any) *sql.Row {
	return t.tx.StmtContext(t.ctx, stmt).QueryRowContext(t.ctx, args...)
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
	// exclusive ops get the connection outside any transaction (CHECKPOINT).
	exclusive func(*sql.Conn) error
}

type writer struct {
	s         *Store
	conn      *sql.Conn
	queue     chan *writeOp
	quit      chan struct{}
	stopped   chan struct{}
	maxBatch  int
	ckptEvery time.Duration
	dirty     bool
}

func startWriter(ctx context.Context, s *Store, opts Options) (*writer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: writer connection: %w", err)
	}
	w := &writer{
		s: s, conn: conn,
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
		return ErrClosed
	default:
	}
	select {
	case w.queue <- op:
	case <-w.quit:
		return ErrClosed
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
	runAll(after)
	for i, op := range live {
		op.done <- results[i]
	}
}

// apply runs ops in one transaction. It returns each op's outcome and the
// after-commit hooks, or a fault that rolled everything back.
func (w *writer) apply(ops []*writeOp) ([]error, []func(), error) {
	ctx := context.Background() // a caller leaving must not abort its neighbours' commit
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("store: begin: %w", err)
	}
	results := make([]error, len(ops))
	var after []func()
	for i, op := range ops {
		t := &Tx{ctx: ctx, tx: tx, s: w.s}
		err := op.fn(t)
		if err != nil && !isRule(err) {
			_ = tx.Rollback()
			return nil, nil, err
		}
		results[i] = err
		after = append(after, t.after...)
	}
	if err := tx.Commit(); err != nil {
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
