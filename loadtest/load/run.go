// Package load is a small closed-loop HTTP load generator: N workers, each
// one keep-alive connection sending its next request as soon as the
// previous one was answered, for a fixed time after a warm-up. Each worker
// is its own Worker value, so it can carry state from one answer to the next
// request (a refresh token it rotates, a cookie). Latencies go into bounded
// histograms; streaming runs also time the first event and the gaps between
// events. Process figures (RSS, CPU time) come from /proc.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Worker produces one connection's requests, in order, and judges each
// answer. Run calls a Worker from one goroutine only.
type Worker interface {
	// Request returns the next request to send.
	Request(ctx context.Context) (*http.Request, error)
	// Check judges the answer to the last request: its status and body
	// (up to MaxBodyBytes). A non-nil error counts it as failed.
	Check(status int, body []byte) error
}

// RequestFunc is a stateless Worker: every 2xx answer is a success.
type RequestFunc func(ctx context.Context) (*http.Request, error)

// Request calls f.
func (f RequestFunc) Request(ctx context.Context) (*http.Request, error) { return f(ctx) }

// Check accepts any 2xx status.
func (f RequestFunc) Check(status int, _ []byte) error { return Want2xx(status) }

// Want2xx is the usual success rule.
func Want2xx(status int) error {
	if status < 200 || status > 299 {
		return fmt.Errorf("status %d", status)
	}
	return nil
}

// MaxBodyBytes is how much of an answer Check gets to see; the rest is
// read and discarded.
const MaxBodyBytes = 1 << 20

// Options shape a run.
type Options struct {
	// Connections is the number of concurrent workers (default 1).
	Connections int
	// Duration is the measured time (default 5s); Run only.
	Duration time.Duration
	// WarmUp runs before the measured time, unrecorded; Run only.
	WarmUp time.Duration
	// Stream reads answers as server-sent events and times the first data
	// event (TTFB) and the gaps between data events.
	Stream bool
	// Timeout bounds each request, body included (default 30s).
	Timeout time.Duration
	// Client sends the requests. By default a NewClient(Connections) made
	// for the run, whose connections are closed when it ends; a client
	// passed here is left as it is.
	Client *http.Client
}

// withDefaults fills in the zero fields; done closes what it created.
func (o Options) withDefaults() (_ Options, done func()) {
	done = func() {}
	if o.Connections < 1 {
		o.Connections = 1
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = NewClient(o.Connections)
		done = o.Client.CloseIdleConnections
	}
	return o, done
}

// Result is what a run measured. Only requests that started after the
// warm-up and were answered before the end count.
type Result struct {
	Connections int           `json:"connections"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	Requests    uint64        `json:"requests"`
	Successes   uint64        `json:"successes"`
	Failures    uint64        `json:"failures"`
	// RPS is successful requests per second.
	RPS float64 `json:"rps"`
	// ByStatus counts answers per HTTP status; 0 means no answer at all
	// (connection error, timeout).
	ByStatus map[int]uint64 `json:"by_status"`
	// FailureSamples holds the first few distinct failure messages.
	FailureSamples []string `json:"failure_samples,omitempty"`
	Latency        Summary  `json:"latency"`
	// TTFB and ChunkGap are only measured with Options.Stream.
	TTFB     Summary `json:"ttfb,omitzero"`
	ChunkGap Summary `json:"chunk_gap,omitzero"`
}

// maxFailureSamples bounds Result.FailureSamples.
const maxFailureSamples = 5

// Run drives a closed loop: opts.Connections workers, made by newWorker(i),
// each sending its next request as soon as the previous one was answered,
// for opts.WarmUp and then opts.Duration. It returns when every worker has
// stopped; requests still in flight at the end may run up to opts.Timeout
// but are not counted.
func Run(ctx context.Context, opts Options, newWorker func(i int) Worker) Result {
	opts, done := opts.withDefaults()
	defer done()
	t := newTally()
	measureFrom := time.Now().Add(opts.WarmUp)
	closedLoop(ctx, opts, newWorker, measureFrom, measureFrom.Add(opts.Duration), t)
	return t.summarize(opts.Connections, opts.Duration)
}

// Compare measures two variants of one load, typically a baseline and the
// same requests through a proxy, alternating between them in rounds
// (a, b, a, b, ...) so that background load drifting on a shared machine
// weighs on both alike. Each variant gets opts.WarmUp once, then
// opts.Duration in total, split evenly over the rounds. Workers are made
// anew each round; the client, and so its connections, is shared.
func Compare(ctx context.Context, opts Options, rounds int, a, b func(i int) Worker) (Result, Result) {
	results := CompareAll(ctx, opts, rounds, a, b)
	return results[0], results[1]
}

// CompareAll is Compare for any number of variants, run in turn in every
// round (a, b, c, a, b, c, ...); its results are in the variants' order.
func CompareAll(ctx context.Context, opts Options, rounds int, variants ...func(i int) Worker) []Result {
	opts, done := opts.withDefaults()
	defer done()
	rounds = max(rounds, 1)
	tallies := make([]*tally, len(variants))
	for v := range variants {
		tallies[v] = newTally()
	}
	if opts.WarmUp > 0 {
		for v, newWorker := range variants {
			end := time.Now().Add(opts.WarmUp)
			closedLoop(ctx, opts, newWorker, end, end, tallies[v])
		}
	}
	slice := opts.Duration / time.Duration(rounds)
	for range rounds {
		for v, newWorker := range variants {
			from := time.Now()
			closedLoop(ctx, opts, newWorker, from, from.Add(slice), tallies[v])
		}
	}
	measured := slice * time.Duration(rounds)
	results := make([]Result, len(variants))
	for v, t := range tallies {
		results[v] = t.summarize(opts.Connections, measured)
	}
	return results
}

// closedLoop runs the workers until measureTo and records the requests
// that started at or after measureFrom and were answered by measureTo
// (and every failure to build a request, which stops its worker).
func closedLoop(ctx context.Context, opts Options, newWorker func(i int) Worker, measureFrom, measureTo time.Time, t *tally) {
	var wg sync.WaitGroup
	for i := range opts.Connections {
		wg.Go(func() {
			w := newWorker(i)
			for time.Now().Before(measureTo) && ctx.Err() == nil {
				start := time.Now()
				o := send(ctx, opts, w)
				inWindow := !start.Before(measureFrom) && !o.end.After(measureTo)
				if inWindow || o.fatal {
					t.add(o)
				}
				if o.fatal {
					return
				}
			}
		})
	}
	wg.Wait()
}

// Burst starts opts.Connections workers at the same instant, each sending
// exactly one request, and waits for all of them (each bounded by
// opts.Timeout). Every request counts; Elapsed is from the start to the
// last answer.
func Burst(ctx context.Context, opts Options, newWorker func(i int) Worker) Result {
	opts, done := opts.withDefaults()
	defer done()
	t := newTally()
	workers := make([]Worker, opts.Connections)
	for i := range opts.Connections {
		workers[i] = newWorker(i)
	}
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range opts.Connections {
		wg.Go(func() {
			<-release
			t.add(send(ctx, opts, workers[i]))
		})
	}
	begin := time.Now()
	close(release)
	wg.Wait()
	return t.summarize(opts.Connections, time.Since(begin))
}

// outcome is one request's fate.
type outcome struct {
	status  int
	err     error
	latency time.Duration
	end     time.Time
	// fatal: the worker could not even build a request; it stops.
	fatal bool
	// Streaming figures: time to the first data event and the gaps between
	// data events.
	ttfb    time.Duration
	hasTTFB bool
	gaps    []time.Duration
}

func send(ctx context.Context, opts Options, w Worker) outcome {
	reqCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	req, err := w.Request(reqCtx)
	if err != nil {
		return outcome{err: fmt.Errorf("build request: %w", err), end: time.Now(), fatal: true}
	}
	req = req.WithContext(reqCtx)
	start := time.Now()
	resp, err := opts.Client.Do(req)
	if err != nil {
		return outcome{err: err, latency: time.Since(start), end: time.Now()}
	}
	defer resp.Body.Close()
	var o outcome
	var body []byte
	if opts.Stream {
		var events streamTimes
		body, events, err = readEvents(resp.Body, start)
		o.ttfb, o.hasTTFB, o.gaps = events.firstByte, events.seen, events.gaps
	} else {
		body, err = readBody(resp.Body)
	}
	o.end = time.Now()
	o.latency = o.end.Sub(start)
	o.status = resp.StatusCode
	if err != nil {
		o.err = fmt.Errorf("status %d, reading body: %w", resp.StatusCode, err)
		return o
	}
	o.err = w.Check(resp.StatusCode, body)
	return o
}

// readBody keeps the first MaxBodyBytes and drains the rest, so the
// connection can be reused.
func readBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes))
	if err != nil {
		return body, err
	}
	_, err = io.Copy(io.Discard, r)
	return body, err
}

// tally accumulates the outcomes of a run (or of one variant of a
// comparison). Workers share it under a lock: recording costs nanoseconds
// next to an HTTP round trip, and one set of histograms keeps memory flat
// however many connections there are.
type tally struct {
	mu                  sync.Mutex
	latency, ttfb, gaps *Histogram
	byStatus            map[int]uint64
	failures            uint64
	samples             []string
}

func newTally() *tally {
	return &tally{latency: NewHistogram(), ttfb: NewHistogram(), gaps: NewHistogram(), byStatus: map[int]uint64{}}
}

func (t *tally) add(o outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latency.Record(o.latency)
	t.byStatus[o.status]++
	if o.hasTTFB {
		t.ttfb.Record(o.ttfb)
	}
	for _, g := range o.gaps {
		t.gaps.Record(g)
	}
	if o.err == nil {
		return
	}
	t.failures++
	if msg := describe(o); len(t.samples) < maxFailureSamples && !slices.Contains(t.samples, msg) {
		t.samples = append(t.samples, msg)
	}
}

func describe(o outcome) string {
	if errors.Is(o.err, context.DeadlineExceeded) {
		return fmt.Sprintf("timed out after %s", o.latency.Round(time.Millisecond))
	}
	return o.err.Error()
}

func (t *tally) summarize(connections int, elapsed time.Duration) Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := Result{Connections: connections, Elapsed: elapsed, Requests: t.latency.Count(),
		Failures: t.failures, ByStatus: t.byStatus, FailureSamples: t.samples,
		Latency: t.latency.Summary(), TTFB: t.ttfb.Summary(), ChunkGap: t.gaps.Summary()}
	r.Successes = r.Requests - r.Failures
	if elapsed > 0 {
		r.RPS = float64(r.Successes) / elapsed.Seconds()
	}
	return r
}
