package budgets

import (
	"sync"
	"time"
)

// limiter counts requests per minute per key with the generic cell rate
// algorithm: one time per key (the theoretical arrival time of the next
// request), bursts up to the whole minute's allowance, and an exact
// Retry-After. It lives in memory: every process counts its own requests.
type limiter struct {
	mu  sync.Mutex
	tat map[string]time.Time
}

// maxTracked bounds the keys kept; past it, keys whose window has passed
// are forgotten (they would allow a full burst anyway).
const maxTracked = 100_000

type bucket struct {
	key       string
	perMinute int
}

// allow admits one request against every bucket, or against none: it
// returns the longest wait any bucket asks for and which bucket that is.
func (l *limiter) allow(now time.Time, buckets ...bucket) (wait time.Duration, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tat == nil {
		l.tat = map[string]time.Time{}
	}
	next := make([]time.Time, len(buckets))
	refused = -1
	for i, b := range buckets {
		interval := time.Minute / time.Duration(b.perMinute)
		tolerance := time.Minute - interval
		tat := l.tat[b.key]
		if tat.Before(now) {
			tat = now
		}
		if ahead := tat.Sub(now); ahead > tolerance {
			if w := ahead - tolerance; w > wait {
				wait, refused = w, i
			}
		}
		next[i] = tat.Add(interval)
	}
	if refused >= 0 {
		return wait, refused
	}
	if len(l.tat) >= maxTracked {
		for k, t := range l.tat {
			if t.Before(now) {
				delete(l.tat, k)
			}
		}
	}
	for i, b := range buckets {
		l.tat[b.key] = next[i]
	}
	return 0, -1
}
