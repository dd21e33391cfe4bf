package auth

import (
	"sync"
	"time"
)

// Throttle counts failed sign-ins per key (an email, a client address) and
// locks a key out for a while once it reaches its limit. It lives in memory:
// the backend is one process, and a restart forgiving a lock-out is fine.
type Throttle struct {
	mu      sync.Mutex
	limit   int
	lockout time.Duration
	now     func() time.Time
	entries map[string]*attempts
}

type attempts struct {
	failures    int
	windowStart time.Time
	lockedUntil time.Time
}

// maxThrottleEntries bounds memory under a spray of distinct keys.
const maxThrottleEntries = 200_000

// NewThrottle allows limit failures per key within lockout before locking
// the key for lockout.
func NewThrottle(limit int, lockout time.Duration, now func() time.Time) *Throttle {
	return &Throttle{limit: limit, lockout: lockout, now: now, entries: make(map[string]*attempts)}
}

// Locked reports how long key stays locked (0 when it is not).
func (t *Throttle) Locked(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.entries[key]
	if a == nil {
		return 0
	}
	if left := a.lockedUntil.Sub(t.now()); left > 0 {
		return left
	}
	return 0
}

// Fail records a failure for key and reports whether this failure locked it.
func (t *Throttle) Fail(key string) (lockedNow bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	a := t.entries[key]
	if a == nil || now.Sub(a.windowStart) > t.lockout {
		if len(t.entries) >= maxThrottleEntries {
			t.sweep(now)
		}
		a = &attempts{windowStart: now}
		t.entries[key] = a
	}
	a.failures++
	if a.failures >= t.limit && !now.Before(a.lockedUntil) {
		a.lockedUntil = now.Add(t.lockout)
		a.failures = 0
		a.windowStart = now
		return true
	}
	return false
}

// Reset forgets key's failures (after a successful sign-in).
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	delete(t.entries, key)
	t.mu.Unlock()
}

func (t *Throttle) sweep(now time.Time) {
	for k, a := range t.entries {
		if now.Sub(a.windowStart) > t.lockout && !now.Before(a.lockedUntil) {
			delete(t.entries, k)
		}
	}
	if len(t.entries) >= maxThrottleEntries {
		clear(t.entries) // under a flood, forgetting beats growing without bound
	}
}
