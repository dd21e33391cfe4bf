// Package balance spreads the frontend's calls to the backend over several
// backend replicas (BACKEND_URL with more than one URL): an
// http.RoundTripper in front of the one connection pool (proxy.NewTransport)
// that serves both the pages' typed client and the /api proxy.
//
//   - Calls go round-robin to the backends that are in: a backend is out
//     after FailAfter consecutive failed calls, or when its /readyz does not
//     answer 200; a probe of every backend each ProbeEvery puts it back as
//     soon as /readyz answers 200 again.
//   - A call that fails is tried on the next backend when that cannot do
//     a thing twice: always when no connection was made (the request never
//     left), otherwise only for the methods net/http itself replays (GET,
//     HEAD, OPTIONS, TRACE, or a request carrying an Idempotency-Key). A
//     POST that may have reached a backend is never sent again.
//   - When every backend is out, calls still go round-robin to all of them:
//     better a try than a certain failure, and the first success puts that
//     backend back.
package balance

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune a Pool; zero values take the defaults.
type Options struct {
	// FailAfter consecutive failed calls take a backend out (default 2).
	FailAfter int
	// ProbeEvery is how often each backend's /readyz is asked (default 1s).
	ProbeEvery time.Duration
	// ProbeTimeout bounds one probe (default 1s).
	ProbeTimeout time.Duration
	Logger       *slog.Logger
}

// Pool is the set of backends and the RoundTripper over them.
type Pool struct {
	next     http.RoundTripper
	backends []*backend
	turn     atomic.Uint64
	opts     Options

	stop context.CancelFunc
	done chan struct{}
	once sync.Once
}

type backend struct {
	url      *url.URL // scheme and host; the path is the caller's
	in       atomic.Bool
	failures atomic.Int32
}

// New balances over backends (their scheme and host; every request keeps
// its own path) through next, and starts probing them. Close stops the
// probes.
func New(backends []*url.URL, next http.RoundTripper, opts Options) *Pool {
	if opts.FailAfter <= 0 {
		opts.FailAfter = 2
	}
	if opts.ProbeEvery <= 0 {
		opts.ProbeEvery = time.Second
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{next: next, opts: opts, stop: cancel, done: make(chan struct{})}
	for _, u := range backends {
		b := &backend{url: &url.URL{Scheme: u.Scheme, Host: u.Host}}
		b.in.Store(true) // until a call or a probe says otherwise
		p.backends = append(p.backends, b)
	}
	go p.probeLoop(ctx)
	return p
}

// Close stops the probes.
func (p *Pool) Close() {
	p.once.Do(func() {
		p.stop()
		<-p.done
	})
}

// In reports which backends are in, by URL (for readiness and tests).
func (p *Pool) In() map[string]bool {
	out := make(map[string]bool, len(p.backends))
	for _, b := range p.backends {
		out[b.url.String()] = b.in.Load()
	}
	return out
}

// RoundTrip sends req to a backend, and to the next one when the call
// failed in a way that is safe to repeat (see the package comment).
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	order := p.order()
	var lastErr error
	for i, b := range order {
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = b.url.Scheme, b.url.Host
		out.Host = "" // the Host header follows the URL
		if i > 0 && req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, lastErr
			}
			out.Body = body
		}
		resp, err := p.next.RoundTrip(out)
		if err == nil {
			p.succeeded(b)
			return resp, nil
		}
		lastErr = err
		if req.Context().Err() != nil {
			return nil, err // the caller left: not the backend's fault
		}
		p.failed(b, err)
		if !retryable(req, err) {
			return nil, err
		}
	}
	return nil, lastErr
}

// order is the backends to try for one call: those in, from the next in
// turn, then (when none is in) all of them the same way.
func (p *Pool) order() []*backend {
	n := len(p.backends)
	start := int(p.turn.Add(1) % uint64(n)) //nolint:gosec // n is small and positive
	in := make([]*backend, 0, n)
	for i := range n {
		if b := p.backends[(start+i)%n]; b.in.Load() {
			in = append(in, b)
		}
	}
	if len(in) > 0 {
		return in
	}
	for i := range n {
		in = append(in, p.backends[(start+i)%n])
	}
	return in
}

func (p *Pool) succeeded(b *backend) {
	b.failures.Store(0)
	if !b.in.Swap(true) {
		p.opts.Logger.Info("backend back in", "backend", b.url.String())
	}
}

func (p *Pool) failed(b *backend, err error) {
	if int(b.failures.Add(1)) >= p.opts.FailAfter && b.in.Swap(false) {
		p.opts.Logger.Warn("backend taken out after failed calls", "backend", b.url.String(), "err", err)
	}
}

// retryable reports whether a failed call may go to another backend: the
// request never left (no connection), or its method is one net/http
// replays by itself, and its body (if any) can be produced again.
func retryable(req *http.Request, err error) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if neverConnected(err) {
		return true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, keyed := req.Header["Idempotency-Key"]
	_, xkeyed := req.Header["X-Idempotency-Key"]
	return keyed || xkeyed
}

// neverConnected reports an error from dialing: no byte of the request was
// sent, whatever its method.
func neverConnected(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (p *Pool) probeLoop(ctx context.Context) {
	defer close(p.done)
	ticker := time.NewTicker(p.opts.ProbeEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		var wg sync.WaitGroup
		for _, b := range p.backends {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.probe(ctx, b)
			}()
		}
		wg.Wait()
	}
}

// probe asks b's /readyz: 200 puts it in, anything else takes it out.
func (p *Pool) probe(ctx context.Context, b *backend) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url.String()+"/readyz", nil)
	if err != nil {
		return
	}
	resp, err := p.next.RoundTrip(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
		_ = resp.Body.Close()
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return // shutting down
	}
	if err == nil && resp.StatusCode == http.StatusOK {
		p.succeeded(b)
		return
	}
	b.failures.Store(int32(p.opts.FailAfter)) //nolint:gosec // small
	if b.in.Swap(false) {
		reason := "unreachable"
		if err == nil {
			reason = "/readyz answered " + resp.Status
		}
		p.opts.Logger.Warn("backend taken out: not ready", "backend", b.url.String(), "reason", reason)
	}
}
