package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

func init() {
	register("RotationIsSingleUseAndReuseRevokesTheFamily", rotationAndReuse)
	register("ConcurrentRotationsOfOneTokenSucceedOnce", concurrentRotations)
	register("UnknownAndExpiredTokensAreInvalid", unknownAndExpiredTokens)
	register("LogoutWithAnyTokenOfTheSessionEndsIt", logoutEndsSession)
	register("RevokeSessionOnlyForItsOwner", revokeSession)
	register("SignOutEverywhereElseKeepsOne", revokeOtherSessions)
	register("PasswordChangeEndsOtherSessions", passwordChangeEndsOthers)
	register("RehashKeepsEverySession", rehashKeepsSessions)
	register("SessionsListMostRecentlyUsedFirst", sessionsList)
	register("TokenCountsAndPurge", tokenCountsAndPurge)
	register("AFailedRotationLeavesTheSessionUsable", failedRotation)
}

func rotationAndReuse(t *testing.T, e *env) {
	u := e.user("bob@example.com", model.RoleUser)
	family := e.signIn(u, "h1")
	if owner, live, err := e.s.SessionActive(e.ctx, family); err != nil || !live || owner != u.ID {
		t.Fatalf("new session: owner %v live %v, %v", owner, live, err)
	}
	se, err := e.rotate("h1", "h2")
	if err != nil || se.ID != family || se.UserID != u.ID {
		t.Fatalf("rotate: %+v, %v", se, err)
	}
	if !e.live(family) {
		t.Fatal("rotation ended the session")
	}
	if _, err := e.rotate("h1", "h3"); !errors.Is(err, model.ErrTokenReused) {
		t.Fatalf("reuse: %v, want ErrTokenReused", err)
	}
	if e.live(family) {
		t.Fatal("the session is live after its rotated token came back")
	}
	if _, err := e.rotate("h2", "h4"); !errors.Is(err, model.ErrTokenInvalid) {
		t.Fatalf("the current token after a reuse: %v, want ErrTokenInvalid", err)
	}
	audits, total, err := e.s.ListAudit(e.ctx, model.AuditFilter{Action: api.AuditFamilyRevoked, Limit: 10})
	if err != nil || total != 1 || audits[0].TargetID != family.String() || audits[0].ActorID != u.ID.String() {
		t.Fatalf("audit of the reuse: %+v (%d), %v", audits, total, err)
	}
}

func concurrentRotations(t *testing.T, e *env) {
	u := e.user("carol@example.com", model.RoleUser)
	for round := range 5 {
		old := fmt.Sprintf("round-%d", round)
		family := e.signIn(u, old)
		var ok, refused atomic.Int32
		concurrently(20, func(i int) {
			_, err := e.rotate(old, fmt.Sprintf("%s-next-%d", old, i))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, model.ErrTokenReused), errors.Is(err, model.ErrTokenInvalid):
				refused.Add(1)
			default:
				t.Errorf("round %d: %v", round, err)
			}
		})
		if ok.Load() != 1 || refused.Load() != 19 {
			t.Fatalf("round %d: %d rotations succeeded and %d were refused; want 1 and 19", round, ok.Load(), refused.Load())
		}
		// The losers presented a rotated token: reuse, so the family ends.
		if e.live(family) {
			t.Fatalf("round %d: the session survived 19 reuses of its rotated token", round)
		}
	}
}

func unknownAndExpiredTokens(t *testing.T, e *env) {
	if _, err := e.rotate("never-issued", "x"); !errors.Is(err, model.ErrTokenInvalid) {
		t.Fatalf("unknown token: %v, want ErrTokenInvalid", err)
	}
	u := e.user("dan@example.com", model.RoleUser)
	family, err := e.s.CreateSession(e.ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: "short",
		ExpiresAt: e.clk.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(2 * time.Minute)
	if e.live(family) {
		t.Fatal("an expired session is live")
	}
	if _, err := e.rotate("short", "later"); !errors.Is(err, model.ErrTokenInvalid) {
		t.Fatalf("expired token: %v, want ErrTokenInvalid", err)
	}
	if list, _ := e.s.Sessions(e.ctx, u.ID); len(list) != 0 {
		t.Fatalf("expired session listed: %+v", list)
	}
}

func logoutEndsSession(t *testing.T, e *env) {
	u := e.user("fred@example.com", model.RoleUser)
	current := e.signIn(u, "c1")
	if err := e.s.RevokeByToken(e.ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if e.live(current) {
		t.Fatal("logout with the current token left the session live")
	}
	if _, err := e.rotate("c1", "c2"); !errors.Is(err, model.ErrTokenInvalid) {
		t.Fatalf("refresh after logout: %v, want ErrTokenInvalid", err)
	}

	older := e.signIn(u, "o1")
	if _, err := e.rotate("o1", "o2"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RevokeByToken(e.ctx, "o1"); err != nil { // a rotated token of the session
		t.Fatal(err)
	}
	if e.live(older) {
		t.Fatal("logout with a rotated token left the session live")
	}
	if err := e.s.RevokeByToken(e.ctx, "never-issued"); err != nil {
		t.Fatalf("logout with an unknown token: %v, want nil", err)
	}
}

func revokeSession(t *testing.T, e *env) {
	alice := e.user("alice@example.com", model.RoleUser)
	mallory := e.user("mallory@example.com", model.RoleUser)
	target := e.signIn(alice, "a1")
	if err := e.s.RevokeSession(e.ctx, mallory.ID, target); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoking another user's session: %v, want ErrNotFound", err)
	}
	if !e.live(target) {
		t.Fatal("another user ended the session")
	}
	if err := e.s.RevokeSession(e.ctx, alice.ID, uuid.Must(uuid.NewV7())); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoking an unknown session: %v, want ErrNotFound", err)
	}
	if err := e.s.RevokeSession(e.ctx, alice.ID, target); err != nil {
		t.Fatal(err)
	}
	if e.live(target) {
		t.Fatal("revoked session is live")
	}
	if err := e.s.RevokeSession(e.ctx, alice.ID, target); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoking an ended session: %v, want ErrNotFound", err)
	}
}

func revokeOtherSessions(t *testing.T, e *env) {
	u := e.user("gus@example.com", model.RoleUser)
	other := e.user("hal@example.com", model.RoleUser)
	keep := e.signIn(u, "k")
	ended := []uuid.UUID{e.signIn(u, "x1"), e.signIn(u, "x2")}
	bystander := e.signIn(other, "y")
	if err := e.s.RevokeOtherSessions(e.ctx, u.ID, keep); err != nil {
		t.Fatal(err)
	}
	if !e.live(keep) || !e.live(bystander) {
		t.Fatal("the kept session or another user's session ended")
	}
	for _, f := range ended {
		if e.live(f) {
			t.Fatal("another session survived sign-out everywhere else")
		}
	}
}

func passwordChangeEndsOthers(t *testing.T, e *env) {
	u := e.user("fay@example.com", model.RoleUser)
	keep := e.signIn(u, "k")
	other := e.signIn(u, "o")
	hash := "new-hash"
	if _, err := e.s.UpdateUser(e.ctx, u.ID, model.UserChange{PasswordHash: &hash, EndOtherSessions: true, KeepSession: keep}); err != nil {
		t.Fatal(err)
	}
	if !e.live(keep) {
		t.Fatal("the session that changed the password ended")
	}
	if e.live(other) {
		t.Fatal("another session survived the password change")
	}
	if _, err := e.rotate("o", "o2"); !errors.Is(err, model.ErrTokenInvalid) {
		t.Fatalf("refresh of an ended session: %v", err)
	}
	list, err := e.s.Sessions(e.ctx, u.ID)
	if err != nil || len(list) != 1 || list[0].ID != keep {
		t.Fatalf("sessions: %+v, %v", list, err)
	}
}

func rehashKeepsSessions(t *testing.T, e *env) {
	u := e.user("rehash@example.com", model.RoleUser)
	family := e.signIn(u, "r1")
	stronger := "stronger-hash"
	if _, err := e.s.UpdateUser(e.ctx, u.ID, model.UserChange{PasswordHash: &stronger}); err != nil {
		t.Fatal(err)
	}
	if !e.live(family) {
		t.Fatal("upgrading a hash signed the user out")
	}
}

func sessionsList(t *testing.T, e *env) {
	u := e.user("ivy@example.com", model.RoleUser)
	first := e.signIn(u, "s1")
	e.clk.Advance(time.Second)
	second := e.signIn(u, "s2")
	e.clk.Advance(time.Second)
	if _, err := e.s.Rotate(e.ctx, model.Rotation{OldHash: "s1", NewHash: "s1b", ExpiresAt: e.clk.Now().Add(2 * time.Hour),
		UserAgent: "phone", IP: "198.51.100.7"}); err != nil {
		t.Fatal(err)
	}
	list, err := e.s.Sessions(e.ctx, u.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("sessions: %+v, %v", list, err)
	}
	got := list[0]
	if got.ID != first || got.UserID != u.ID || got.UserAgent != "phone" || got.IP != "198.51.100.7" ||
		!got.LastUsedAt.After(got.CreatedAt) || !got.ExpiresAt.Equal(e.clk.Now().Add(2*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("most recently used session: %+v", got)
	}
	if list[1].ID != second || list[1].UserAgent != "test-agent" {
		t.Fatalf("second session: %+v", list[1])
	}
}

func tokenCountsAndPurge(t *testing.T, e *env) {
	u := e.user("jo@example.com", model.RoleUser)
	e.signIn(u, "active") // active
	e.signIn(u, "rot-1")  // rotated, then its successor is active
	if _, err := e.rotate("rot-1", "rot-2"); err != nil {
		t.Fatal(err)
	}
	e.signIn(u, "gone")
	if err := e.s.RevokeByToken(e.ctx, "gone"); err != nil { // revoked
		t.Fatal(err)
	}
	if _, err := e.s.CreateSession(e.ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: "old",
		ExpiresAt: e.clk.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(2 * time.Minute) // expired
	counts, err := e.s.TokenCounts(e.ctx)
	want := map[string]int{model.TokenActive: 2, model.TokenRotated: 1, model.TokenRevoked: 1, model.TokenExpired: 1}
	for state, n := range want {
		if counts[state] != n {
			t.Fatalf("token counts %v (%v), want %v", counts, err, want)
		}
	}
	n, err := e.s.PurgeTokens(e.ctx, &model.Audit{ActorID: u.ID.String(), Action: api.AuditTokensPurged})
	if err != nil || n != 2 {
		t.Fatalf("purge: %d, %v; want the revoked and the expired token", n, err)
	}
	counts, _ = e.s.TokenCounts(e.ctx)
	if counts[model.TokenRevoked] != 0 || counts[model.TokenExpired] != 0 || counts[model.TokenActive] != 2 || counts[model.TokenRotated] != 1 {
		t.Fatalf("after purge: %v", counts)
	}
	// Rotated tokens stay: their reuse must still be recognised.
	if _, err := e.rotate("rot-1", "rot-3"); !errors.Is(err, model.ErrTokenReused) {
		t.Fatalf("reuse after a purge: %v, want ErrTokenReused", err)
	}
	audits, _, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Action: api.AuditTokensPurged, Limit: 5})
	if len(audits) != 1 || audits[0].Detail == "" {
		t.Fatalf("purge audit: %+v", audits)
	}
}

// failedRotation makes a rotation's own transaction fail (its successor's
// hash collides with an existing token, which the unique index refuses)
// and checks that the presented token still works afterwards: nothing of
// the failed attempt was kept. Keycloak once marked the token used before
// such a failure.
func failedRotation(t *testing.T, e *env) {
	u := e.user("fail@example.com", model.RoleUser)
	family := e.signIn(u, "mine")
	e.signIn(u, "taken")
	_, err := e.rotate("mine", "taken")
	if err == nil || errors.Is(err, model.ErrTokenInvalid) || errors.Is(err, model.ErrTokenReused) {
		t.Fatalf("colliding rotation: %v, want a fault", err)
	}
	if !e.live(family) {
		t.Fatal("the session ended with the failed rotation")
	}
	if _, err := e.rotate("mine", "fresh"); err != nil {
		t.Fatalf("the token of a failed rotation no longer works: %v", err)
	}
}
