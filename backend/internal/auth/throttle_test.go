package auth

import (
	"testing"
	"time"
)

func TestThrottleLocksAfterTheLimitAndForgetsAfterTheLockout(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	th := NewThrottle(3, time.Minute, clk.now)
	for i := 1; i <= 2; i++ {
		if th.Fail("k") {
			t.Fatalf("locked after %d failures", i)
		}
	}
	if !th.Fail("k") {
		t.Fatal("not locked after 3 failures")
	}
	if left := th.Locked("k"); left != time.Minute {
		t.Fatalf("locked for %v", left)
	}
	if th.Locked("other") != 0 {
		t.Fatal("another key is locked")
	}
	clk.t = clk.t.Add(61 * time.Second)
	if th.Locked("k") != 0 {
		t.Fatal("still locked after the lock-out")
	}
	th.Fail("k")
	th.Reset("k")
	th.Fail("k")
	if th.Fail("k") {
		t.Fatal("reset did not forget failures")
	}
}
