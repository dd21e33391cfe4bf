package ai

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// UsageWriter stores a batch of usage records in one write.
type UsageWriter interface {
	InsertUsage(ctx context.Context, records []model.UsageRecord) error
}

// RecorderOptions tune a Recorder.
type RecorderOptions struct {
	// Interval is the longest a record waits before it is written.
	Interval time.Duration
	// MaxBatch records written together; reaching it triggers a flush at once.
	MaxBatch int
	// MaxPending bounds the records kept while the database fails; beyond
	// it the oldest are dropped (and logged) rather than exhausting memory.
	MaxPending int
	Logger     *slog.Logger
}

// Recorder collects usage records from request handlers and writes them in
// batches: Record only appends to a slice under a mutex, so a request never
// waits for the database. One goroutine flushes every Interval, or as soon as
// MaxBatch records are pending, through ONE store write (a multi-row INSERT
// committed once). A failed flush keeps the records for the next one. Close
// flushes what is left, so a clean stop loses nothing.
type Recorder struct {
	w    UsageWriter
	opts RecorderOptions

	mu      sync.Mutex
	pending []model.UsageRecord
	closed  bool

	full    chan struct{}      // a batch is ready: flush now
	flushes chan chan struct{} // Flush asks, and waits for the close
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// NewRecorder starts a recorder writing to w.
func NewRecorder(w UsageWriter, opts RecorderOptions) *Recorder {
	if opts.Interval <= 0 {
		opts.Interval = DefaultFlushInterval
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultFlushRecords
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPendingRecord
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{w: w, opts: opts, full: make(chan struct{}, 1), flushes: make(chan chan struct{}), quit: make(chan struct{}), stopped: make(chan struct{})}
	go r.loop()
	return r
}

// Record queues one record. After Close it writes the record directly, so a
// call finishing during shutdown is still kept.
func (r *Recorder) Record(rec model.UsageRecord) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.write([]model.UsageRecord{rec})
		return
	}
	r.pending = append(r.pending, rec)
	if over := len(r.pending) - r.opts.MaxPending; over > 0 {
		r.pending = r.pending[over:]
		r.opts.Logger.Error("usage records dropped: the database has not accepted them", "dropped", over)
	}
	ready := len(r.pending) >= r.opts.MaxBatch
	r.mu.Unlock()
	if ready {
		select {
		case r.full <- struct{}{}:
		default: // a flush is already asked for
		}
	}
}

// Flush writes the pending records now and returns once they are stored (or
// the write failed, or ctx ended). Used before changing a record that may
// still be pending: a video's cost arrives when its job completes.
func (r *Recorder) Flush(ctx context.Context) {
	done := make(chan struct{})
	select {
	case r.flushes <- done:
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

// Close flushes the pending records and stops the recorder. It is safe to
// call more than once.
func (r *Recorder) Close() {
	r.once.Do(func() {
		close(r.quit)
		<-r.stopped
	})
}

func (r *Recorder) loop() {
	defer close(r.stopped)
	ticker := time.NewTicker(r.opts.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			r.flush()
		case <-r.full:
			r.flush()
		case done := <-r.flushes:
			r.flush()
			close(done)
		case <-r.quit:
			r.mu.Lock()
			r.closed = true
			r.mu.Unlock()
			r.flush()
			return
		}
	}
}

// flush writes every pending record, MaxBatch at a time; what fails to be
// written goes back to the front of the queue for the next flush.
func (r *Recorder) flush() {
	r.mu.Lock()
	batch := r.pending
	r.pending = nil
	r.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), r.opts.MaxBatch)
		if !r.write(batch[:n]) {
			r.mu.Lock()
			r.pending = append(batch, r.pending...)
			r.mu.Unlock()
			return
		}
		batch = batch[n:]
	}
}

func (r *Recorder) write(batch []model.UsageRecord) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.w.InsertUsage(ctx, batch); err != nil {
		r.opts.Logger.Error("writing usage records failed; will retry", "records", len(batch), "err", err)
		return false
	}
	return true
}
