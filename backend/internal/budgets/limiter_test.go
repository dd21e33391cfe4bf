package budgets

import (
	"testing"
	"time"
)

func TestLimiterAllowsAMinutesBurstThenOnePerInterval(t *testing.T) {
	var l limiter
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	user := bucket{key: "u", perMinute: 60}
	for i := range 60 {
		if wait, refused := l.allow(now, user); refused >= 0 {
			t.Fatalf("request %d of a burst of 60 refused (wait %v)", i+1, wait)
		}
	}
	wait, refused := l.allow(now, user)
	if refused != 0 || wait != time.Second {
		t.Fatalf("the 61st: refused %d, wait %v; want bucket 0 and 1s", refused, wait)
	}
	if _, refused := l.allow(now.Add(time.Second), user); refused >= 0 {
		t.Fatal("a request one interval later was refused")
	}
}

func TestLimiterRefusesOnTheTightestBucketAndConsumesNone(t *testing.T) {
	var l limiter
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	user, key := bucket{key: "u", perMinute: 10}, bucket{key: "k", perMinute: 2}
	for range 2 {
		if _, refused := l.allow(now, user, key); refused >= 0 {
			t.Fatal("refused within both limits")
		}
	}
	wait, refused := l.allow(now, user, key)
	if refused != 1 || wait != 30*time.Second {
		t.Fatalf("third request: refused %d wait %v, want the key's bucket and 30s", refused, wait)
	}
	// The refused request consumed nothing from the user's bucket: eight more fit.
	for i := range 8 {
		if _, refused := l.allow(now, user, bucket{key: "k2", perMinute: 100}); refused >= 0 {
			t.Fatalf("user request %d refused after a key refusal", i+3)
		}
	}
	if _, refused := l.allow(now, user); refused != 0 {
		t.Fatal("the user's eleventh request was admitted")
	}
}
