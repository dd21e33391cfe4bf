package session

import (
	"context"
	"crypto/sha256"
	"sync"

	"github.com/duckgate/duckgate/shared/api"
)

// flight makes concurrent refreshes of one refresh token share one backend
// call.
//
// The backend rotates refresh tokens and treats a second use of a rotated
// one as theft, revoking the whole session (RFC 9700, 4.14). A browser page
// fires several requests at once, all carrying the same cookie: they wait
// for the one call in flight and share its result.
//
// Nothing is remembered once the call has finished. A request that still
// presents the old token after that (it left the browser before the new
// cookie arrived, or it was replayed) goes to the backend like any other,
// and the backend decides: within REFRESH_REUSE_GRACE of the rotation the
// direct parent of the current token rotates again, anything else is
// reuse. Handing the remembered pair to late callers, as this type once
// did for 30 s, gave a replayed cookie the current tokens and so bypassed
// reuse detection altogether.
type flight struct {
	mu    sync.Mutex
	calls map[[32]byte]*call
}

type call struct {
	done chan struct{}
	res  refreshed
	err  error
}

// refreshed is what one refresh hands every request waiting for it: the
// new pair and the session's binding.
type refreshed struct {
	pair    *api.TokenPair
	binding string
}

func newFlight() *flight {
	return &flight{calls: make(map[[32]byte]*call)}
}

// do runs refresh for token unless a call for the same token is in flight;
// then it waits for that call and shares its result.
func (f *flight) do(ctx context.Context, token string, refresh func() (refreshed, error)) (refreshed, error) {
	key := sha256.Sum256([]byte(token))

	f.mu.Lock()
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.res, c.err
		case <-ctx.Done():
			return refreshed{}, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()

	c.res, c.err = refresh()

	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	close(c.done)
	return c.res, c.err
}
