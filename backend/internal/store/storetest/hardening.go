package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

func init() {
	register("ASignInIsRefusedWhenTheAccountChangedSinceItWasVerified", signInAfterAccountChange)
	register("ARetryWithinTheGraceRotatesAgain", retryWithinGrace)
	register("ARetryAfterTheGraceIsReuse", retryAfterGrace)
	register("WithoutAGraceAnyRetryIsReuse", retryWithoutGrace)
	register("OnlyTheDirectParentMayRetry", retryOfGrandparent)
	register("RetriesDoNotExtendTheGrace", retriesDoNotExtendGrace)
	register("ConcurrentRetriesLeaveOneUsableToken", concurrentRetries)
	register("FailuresLockAKeyAtItsLimit", throttleLocks)
	register("ConcurrentFailuresLockOnce", throttleConcurrent)
	register("AdminsListAndLiftLockouts", throttleLift)
}

const grace = 10 * time.Second

func (e *env) retry(oldHash, newHash string, g time.Duration) (model.Session, error) {
	return e.s.Rotate(e.ctx, model.Rotation{OldHash: oldHash, NewHash: newHash,
		ExpiresAt: e.clk.Now().Add(time.Hour), RetryGrace: g, RequestID: "req-retry"})
}

func signInAfterAccountChange(t *testing.T, e *env) {
	e.user("root@example.com", model.RoleAdmin)
	start := func(u model.User) error {
		_, err := e.s.CreateSession(e.ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt,
			TokenHash: fmt.Sprintf("t-%d", e.clk.Now().UnixNano()), ExpiresAt: e.clk.Now().Add(time.Hour)})
		return err
	}
	verified := e.user("ann@example.com", model.RoleUser)
	e.clk.Advance(time.Millisecond)
	hash := "changed-hash"
	changed, err := e.s.UpdateUser(e.ctx, verified.ID, model.UserChange{PasswordHash: &hash})
	if err != nil {
		t.Fatal(err)
	}
	if err := start(verified); !errors.Is(err, model.ErrAccountChanged) {
		t.Fatalf("a sign-in verified before a password change: %v, want ErrAccountChanged", err)
	}
	if err := start(changed); err != nil {
		t.Fatalf("a sign-in verified after it: %v", err)
	}

	e.clk.Advance(time.Millisecond)
	email := "ann.b@example.com"
	if _, err := e.s.UpdateUser(e.ctx, verified.ID, model.UserChange{Email: &email}); err != nil {
		t.Fatal(err)
	}
	if err := start(changed); !errors.Is(err, model.ErrAccountChanged) {
		t.Fatalf("a sign-in verified before an email change: %v, want ErrAccountChanged", err)
	}

	bob := e.user("bob@example.com", model.RoleUser)
	e.clk.Advance(time.Millisecond)
	if _, err := e.s.SetRole(e.ctx, bob.ID, model.RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	if err := start(bob); !errors.Is(err, model.ErrAccountChanged) {
		t.Fatalf("a sign-in verified before a role change: %v, want ErrAccountChanged", err)
	}

	cid := e.user("cid@example.com", model.RoleUser)
	if err := e.s.DeleteUser(e.ctx, cid.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := start(cid); !errors.Is(err, model.ErrAccountChanged) {
		t.Fatalf("a sign-in of a deleted account: %v, want ErrAccountChanged", err)
	}
}

func retryWithinGrace(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	family := e.signIn(u, "p")
	if _, err := e.retry("p", "c1", grace); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(3 * time.Second)
	se, err := e.retry("p", "c2", grace) // the answer with c1 never arrived
	if err != nil || se.ID != family || se.UserID != u.ID {
		t.Fatalf("retry within the grace: %+v, %v", se, err)
	}
	if !e.live(family) {
		t.Fatal("the retry ended the session")
	}
	if _, err := e.retry("c1", "x", grace); !errors.Is(err, model.ErrTokenInvalid) {
		t.Fatalf("the unused successor after a retry: %v, want ErrTokenInvalid", err)
	}
	if !e.live(family) {
		t.Fatal("presenting the revoked successor ended the session")
	}
	if _, err := e.retry("c2", "d", grace); err != nil {
		t.Fatalf("the retry's token: %v", err)
	}
	audits, total, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Action: api.AuditRefreshRetried, Limit: 5})
	if total != 1 || audits[0].TargetID != family.String() || audits[0].RequestID != "req-retry" {
		t.Fatalf("audit of the retry: %+v (%d)", audits, total)
	}
	if _, n, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Action: api.AuditFamilyRevoked, Limit: 5}); n != 0 {
		t.Fatalf("a retry was audited as reuse (%d entries)", n)
	}
}

func retryAfterGrace(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	family := e.signIn(u, "p")
	if _, err := e.retry("p", "c1", grace); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(grace + time.Second)
	if _, err := e.retry("p", "c2", grace); !errors.Is(err, model.ErrTokenReused) {
		t.Fatalf("after the grace: %v, want ErrTokenReused", err)
	}
	if e.live(family) {
		t.Fatal("reuse after the grace left the session live")
	}
}

func retryWithoutGrace(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	family := e.signIn(u, "p")
	if _, err := e.retry("p", "c1", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.retry("p", "c2", 0); !errors.Is(err, model.ErrTokenReused) {
		t.Fatalf("without a grace: %v, want ErrTokenReused", err)
	}
	if e.live(family) {
		t.Fatal("reuse left the session live")
	}
}

func retryOfGrandparent(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	family := e.signIn(u, "p")
	if _, err := e.retry("p", "c", grace); err != nil {
		t.Fatal(err)
	}
	if _, err := e.retry("c", "d", grace); err != nil { // c was used: not a lost answer
		t.Fatal(err)
	}
	if _, err := e.retry("p", "x", grace); !errors.Is(err, model.ErrTokenReused) {
		t.Fatalf("the grandparent within the grace: %v, want ErrTokenReused", err)
	}
	if e.live(family) {
		t.Fatal("reuse of an older token left the session live")
	}
}

func retriesDoNotExtendGrace(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	e.signIn(u, "p")
	if _, err := e.retry("p", "c1", grace); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(6 * time.Second)
	if _, err := e.retry("p", "c2", grace); err != nil {
		t.Fatalf("first retry: %v", err)
	}
	e.clk.Advance(6 * time.Second) // 12 s after the rotation, 6 s after the retry
	if _, err := e.retry("p", "c3", grace); !errors.Is(err, model.ErrTokenReused) {
		t.Fatalf("a retry 12 s after the rotation: %v, want ErrTokenReused", err)
	}
}

// concurrentRetries: two frontends (or a page's parallel requests) present
// one token at once with a grace. However they interleave, exactly one
// of the tokens handed out stays usable, and the session lives on.
func concurrentRetries(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	family := e.signIn(u, "p")
	var ok atomic.Int32
	concurrently(10, func(i int) {
		if _, err := e.retry("p", fmt.Sprintf("n%d", i), grace); err == nil {
			ok.Add(1)
		} else if !errors.Is(err, model.ErrTokenReused) && !errors.Is(err, model.ErrTokenInvalid) {
			t.Errorf("retry %d: %v", i, err)
		}
	})
	if ok.Load() == 0 || !e.live(family) {
		t.Fatalf("%d of 10 concurrent presentations succeeded; session live: %v", ok.Load(), e.live(family))
	}
	usable := 0
	for i := range 10 {
		if _, err := e.retry(fmt.Sprintf("n%d", i), fmt.Sprintf("m%d", i), 0); err == nil {
			usable++
		}
	}
	if usable != 1 {
		t.Fatalf("%d of the handed-out tokens were usable, want exactly 1", usable)
	}
}

func throttleRules(email, ip string) []model.ThrottleRule {
	return []model.ThrottleRule{
		{Key: model.ThrottleKey(model.ThrottlePair, email, ip), Limit: 3, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
		{Key: model.ThrottleKey(model.ThrottleEmail, email), Limit: 10, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
	}
}

func throttleLocks(t *testing.T, e *env) {
	rules := throttleRules("ann@example.com", "192.0.2.1")
	pair, email := rules[0].Key, rules[1].Key
	for i := range 2 {
		locked, err := e.s.RecordFailures(e.ctx, rules)
		if err != nil || len(locked) != 0 {
			t.Fatalf("failure %d locked %v (%v)", i+1, locked, err)
		}
	}
	locked, err := e.s.RecordFailures(e.ctx, rules)
	want := e.clk.Now().Add(15 * time.Minute)
	if err != nil || len(locked) != 1 || !locked[pair].Equal(want) {
		t.Fatalf("third failure locked %v (%v), want the pair until %v", locked, err, want)
	}
	state, err := e.s.LockedUntil(e.ctx, []string{pair, email, "ip:192.0.2.1"})
	if err != nil || len(state) != 1 || !state[pair].Equal(want) {
		t.Fatalf("locked keys %v (%v)", state, err)
	}
	// Another address for the same email is not locked.
	if other, _ := e.s.LockedUntil(e.ctx, []string{model.ThrottleKey(model.ThrottlePair, "ann@example.com", "198.51.100.9")}); len(other) != 0 {
		t.Fatalf("another address is locked too: %v", other)
	}
	// A success clears counts but not a lock.
	if err := e.s.ClearFailures(e.ctx, []string{pair, email}); err != nil {
		t.Fatal(err)
	}
	if state, _ := e.s.LockedUntil(e.ctx, []string{pair}); len(state) != 1 {
		t.Fatal("clearing failures lifted a lock")
	}
	e.clk.Advance(16 * time.Minute)
	if state, _ := e.s.LockedUntil(e.ctx, []string{pair}); len(state) != 0 {
		t.Fatalf("the lock outlived its end: %v", state)
	}
	// A failure after the window starts counting afresh.
	for i := range 2 {
		if locked, _ := e.s.RecordFailures(e.ctx, rules[:1]); len(locked) != 0 {
			t.Fatalf("failure %d of a new window locked: %v", i+1, locked)
		}
	}
	e.clk.Advance(16 * time.Minute)
	if locked, _ := e.s.RecordFailures(e.ctx, rules[:1]); len(locked) != 0 {
		t.Fatalf("failures of an old window still counted: %v", locked)
	}
}

func throttleConcurrent(t *testing.T, e *env) {
	rules := throttleRules("bob@example.com", "192.0.2.2")
	var locks atomic.Int64
	concurrently(20, func(int) {
		locked, err := e.s.RecordFailures(e.ctx, rules)
		if err != nil {
			t.Error(err)
		}
		locks.Add(int64(len(locked)))
	})
	// 20 failures: the pair locks at the 3rd, the email at the 10th; each
	// lock is reported once, and no failure is lost.
	if locks.Load() != 2 {
		t.Fatalf("%d locks reported, want 2 (pair and email)", locks.Load())
	}
	state, _ := e.s.LockedUntil(e.ctx, []string{rules[0].Key, rules[1].Key})
	if len(state) != 2 {
		t.Fatalf("locked %v, want both keys", state)
	}
}

func throttleLift(t *testing.T, e *env) {
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		for range 3 {
			if _, err := e.s.RecordFailures(e.ctx, throttleRules("carol@example.com", ip)[:1]); err != nil {
				t.Fatal(err)
			}
		}
		e.clk.Advance(time.Second)
	}
	list, err := e.s.Lockouts(e.ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("lockouts %+v (%v)", list, err)
	}
	first := list[0]
	if first.Kind != model.ThrottlePair || first.Email != "carol@example.com" || first.IP != "192.0.2.2" || !first.LockedUntil.After(e.clk.Now()) {
		t.Fatalf("newest lockout %+v", first)
	}
	if err := e.s.LiftLockout(e.ctx, first.Key, &model.Audit{Action: api.AuditLockoutLifted, TargetID: first.Key}); err != nil {
		t.Fatal(err)
	}
	if state, _ := e.s.LockedUntil(e.ctx, []string{first.Key}); len(state) != 0 {
		t.Fatal("a lifted lock still holds")
	}
	if list, _ := e.s.Lockouts(e.ctx); len(list) != 1 || list[0].IP != "192.0.2.1" {
		t.Fatalf("after lifting one: %+v", list)
	}
	if err := e.s.LiftLockout(e.ctx, first.Key, nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("lifting a lock that is not there: %v, want ErrNotFound", err)
	}
	if _, n, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Action: api.AuditLockoutLifted, Limit: 5}); n != 1 {
		t.Fatalf("%d audit entries for the lift, want 1", n)
	}
	// A lifted key counts from zero again.
	if locked, _ := e.s.RecordFailures(e.ctx, throttleRules("carol@example.com", "192.0.2.2")[:1]); len(locked) != 0 {
		t.Fatal("one failure after a lift locked the key again")
	}
}
