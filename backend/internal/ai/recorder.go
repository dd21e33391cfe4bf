package ai

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// UsageWriter stores usage records in one write.
type UsageWriter interface {
	InsertUsage(ctx context.Context, records []model.UsageRecord) error
}

// RecorderOptions tune a Recorder.
type RecorderOptions struct {
	// RetryInterval is how often records whose write failed are tried again.
	RetryInterval time.Duration
	// WriteTimeout bounds one write of a call's record.
	WriteTimeout time.Duration
	// MaxPending bounds the records kept while the database fails; beyond
	// it the oldest are dropped (and logged) rather than exhausting memory.
	MaxPending int
	Logger     *slog.Logger
}

// Recorder writes each call's usage record before the call's answer
// completes: usage is what budgets and bills are built on, and a record
// waiting in memory is lost with the process. The store commits records of
// concurrent calls together (DuckDB's group commit; one INSERT each on
// PostgreSQL), so the cost is a share of one commit per call. A record
// whose write fails is not dropped: it waits in memory and is retried in
// the background (and logged), the one case where a crash can still lose
// it.
type Recorder struct {
	w    UsageWriter
	opts RecorderOptions

	mu      sync.Mutex
	pending []model.UsageRecord

	retries chan chan struct{} // Flush asks, and waits for the close
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// NewRecorder starts a recorder writing to w.
func NewRecorder(w UsageWriter, opts RecorderOptions) *Recorder {
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 5 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPendingRecord
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{w: w, opts: opts, retries: make(chan chan struct{}), quit: make(chan struct{}), stopped: make(chan struct{})}
	go r.loop()
	return r
}

// Record commits rec and returns once it is stored, or, when the write
// fails, once it is queued for the retries. It does not depend on ctx
// staying alive: a client that went away still leaves its record. The
// record gets its id before the first attempt: a write that failed after
// all (PostgreSQL's connection lost during COMMIT) and is retried carries
// the same id, which the store skips instead of counting the call twice.
func (r *Recorder) Record(ctx context.Context, rec model.UsageRecord) {
	if rec.ID == uuid.Nil {
		rec.ID = uuid.Must(uuid.NewV7())
	}
	if r.write(ctx, []model.UsageRecord{rec}) {
		return
	}
	r.mu.Lock()
	r.pending = append(r.pending, rec)
	if over := len(r.pending) - r.opts.MaxPending; over > 0 {
		r.pending = r.pending[over:]
		r.opts.Logger.Error("usage records dropped: the database has not accepted them", "dropped", over)
	}
	r.mu.Unlock()
}

// Pending is how many records wait for a retry.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Flush retries the pending records now and returns once that is done (or
// ctx ended).
func (r *Recorder) Flush(ctx context.Context) {
	done := make(chan struct{})
	select {
	case r.retries <- done:
	case <-r.stopped:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Close retries the pending records once more and stops the recorder. It
// is safe to call more than once.
func (r *Recorder) Close() {
	r.once.Do(func() {
		close(r.quit)
		<-r.stopped
	})
}

func (r *Recorder) loop() {
	defer close(r.stopped)
	ticker := time.NewTicker(r.opts.RetryInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			r.retry()
		case done := <-r.retries:
			r.retry()
			close(done)
		case <-r.quit:
			r.retry()
			return
		}
	}
}

// retry writes the pending records in one write; on failure they wait for
// the next round.
func (r *Recorder) retry() {
	r.mu.Lock()
	batch := r.pending
	r.pending = nil
	r.mu.Unlock()
	if len(batch) == 0 || r.write(context.Background(), batch) {
		return
	}
	r.mu.Lock()
	r.pending = append(batch, r.pending...)
	r.mu.Unlock()
}

func (r *Recorder) write(ctx context.Context, batch []model.UsageRecord) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.WriteTimeout)
	defer cancel()
	if err := r.w.InsertUsage(ctx, batch); err != nil {
		r.opts.Logger.Error("writing usage records failed; will retry", "records", len(batch), "err", err)
		return false
	}
	return true
}
