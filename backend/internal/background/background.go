// Package background runs the backend's periodic work (the video job
// poller, scheduled backups, the token purge) so that each job runs on one
// replica at a time. A job runs while its process leads it; leadership
// comes from the store engine: an advisory lock on PostgreSQL, where
// several replicas share the database, and always this process on DuckDB,
// where one process owns the file. When a leader dies its lock goes with
// its connection, and another replica's next attempt takes the job over.
package background

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Leader grants leadership of named jobs.
type Leader interface {
	// Lead blocks until this process leads job, or ctx ends (its error).
	// The returned context ends when leadership is lost (the connection
	// holding it broke) or ctx ends; release gives leadership up.
	Lead(ctx context.Context, job string) (held context.Context, release func(), err error)
}

// Always is the leadership of a database only one process opens: it leads
// every job from the start.
type Always struct{}

// Lead returns at once.
func (Always) Lead(ctx context.Context, _ string) (context.Context, func(), error) {
	held, cancel := context.WithCancel(ctx)
	return held, cancel, nil
}

// Metrics are what operators see of the jobs: which replica leads which
// job, and how often each job ran here.
type Metrics struct {
	leading *prometheus.GaugeVec
	runs    *prometheus.CounterVec
}

// NewMetrics makes the collectors; register them with Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		leading: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "duckgate_background_leader",
			Help: "1 while this process leads the background job (runs it), 0 otherwise.",
		}, []string{"job"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duckgate_background_runs_total",
			Help: "Rounds of a background job this process ran.",
		}, []string{"job"}),
	}
}

// Collectors lists the collectors to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.leading, m.runs}
}

// Runner runs jobs under a Leader.
type Runner struct {
	leader  Leader
	log     *slog.Logger
	metrics *Metrics
	// retry is how long a replica waits between attempts to lead a job
	// another one leads (or after a failed attempt).
	retry time.Duration
}

// Options tune a Runner; zero values take the defaults.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics
	// Retry is the pause between attempts to become a job's leader
	// (default 2 s): how soon a job moves on after its leader died.
	Retry time.Duration
}

// NewRunner runs jobs under leader.
func NewRunner(leader Leader, opts Options) *Runner {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.Retry <= 0 {
		opts.Retry = 2 * time.Second
	}
	return &Runner{leader: leader, log: opts.Logger, metrics: opts.Metrics, retry: opts.Retry}
}

// Start runs job in the background until the returned stop is called (it
// waits for a round in progress to end). Whenever this process leads job,
// lead runs with a context that ends when leadership is lost or stop is
// called; when lead returns while still leading, leadership is released
// and sought again after the retry pause.
func (r *Runner) Start(job string, lead func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.loop(ctx, job, lead)
	}()
	return func() {
		cancel()
		<-done
	}
}

func (r *Runner) loop(ctx context.Context, job string, lead func(ctx context.Context)) {
	gauge := r.metrics.leading.WithLabelValues(job)
	gauge.Set(0)
	for ctx.Err() == nil {
		held, release, err := r.leader.Lead(ctx, job)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("background: could not seek leadership; will retry", "job", job, "err", err)
				sleep(ctx, r.retry)
			}
			continue
		}
		r.log.Info("background: leading job", "job", job)
		gauge.Set(1)
		lead(held)
		gauge.Set(0)
		release()
		if ctx.Err() == nil {
			r.log.Warn("background: leadership ended", "job", job)
			sleep(ctx, r.retry)
		}
	}
}

// Every runs job's round every interval while this process leads it (the
// first round after one interval, as a fresh leader cannot know when the
// last round ran elsewhere).
func (r *Runner) Every(job string, interval time.Duration, round func(ctx context.Context)) (stop func()) {
	runs := r.metrics.runs.WithLabelValues(job)
	return r.Start(job, func(ctx context.Context) {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			runs.Inc()
			round(ctx)
		}
	})
}

// Counted counts one round of job (for jobs that loop themselves).
func (r *Runner) Counted(job string) { r.metrics.runs.WithLabelValues(job).Inc() }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
