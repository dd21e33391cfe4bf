package session

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// flight makes sure one refresh token is exchanged at the backend only once.
//
// The backend rotates refresh tokens and treats a second use of a rotated one
// as theft, revoking the whole session (RFC 9700, 4.14). A browser page fires
// several requests at once, all carrying the same cookie, and a request that
// started just before the rotation can arrive just after it. So concurrent
// callers share one backend call, and a successful result is remembered for a
// grace period, handed to late callers that still present the old token.
type flight struct {
	mu    sync.Mutex
	calls map[[32]byte]*call
	grace time.Duration
	now   func() time.Time
}

type call struct {
	done     chan struct{}
	pair     *api.TokenPair
	err      error
	finished time.Time // zero while in flight
}

func newFlight(grace time.Duration, now func() time.Time) *flight {
	return &flight{calls: make(map[[32]byte]*call), grace: grace, now: now}
}

// do runs refresh for token unless a call for the same token is in flight or
// succeeded within the grace period; then it waits for and shares that result.
func (f *flight) do(ctx context.Context, token string, refresh func() (*api.TokenPair, error)) (*api.TokenPair, error) {
	key := sha256.Sum256([]byte(token))

	f.mu.Lock()
	f.sweepLocked()
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.pair, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()

	pair, err := refresh()

	f.mu.Lock()
	c.pair, c.err, c.finished = pair, err, f.now()
	if err != nil {
		// Forget failures at once: a network error deserves a fresh try,
		// and a rejected token is rejected again anyway.
		delete(f.calls, key)
	}
	f.mu.Unlock()
	close(c.done)
	return pair, err
}

// sweepLocked drops remembered results older than the grace period.
func (f *flight) sweepLocked() {
	now := f.now()
	for k, c := range f.calls {
		if !c.finished.IsZero() && now.Sub(c.finished) > f.grace {
			delete(f.calls, k)
		}
	}
}
