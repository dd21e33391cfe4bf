package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

func init() {
	register("AnAccountTokenSetsThePasswordOnceAndEndsEverySession", accountTokenRedeem)
	register("ANewerTokenOrAPasswordChangeVoidsALink", accountTokenSuperseded)
	register("AnExpiredOrMisusedLinkIsInvalid", accountTokenExpired)
	register("TheAuditTrailNamesPeopleAndKeepsTheNames", auditNames)
	register("ShortSessionsStayShortAcrossRefreshes", shortSessions)
}

func (e *env) accountToken(u model.User, purpose, hash string, ttl time.Duration) {
	e.t.Helper()
	err := e.s.CreateAccountToken(e.ctx, model.AccountToken{ID: uuid.Must(uuid.NewV7()), UserID: u.ID, Purpose: purpose,
		TokenHash: hash, CreatedAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(ttl)}, nil)
	if err != nil {
		e.t.Fatalf("create %s token: %v", purpose, err)
	}
}

func accountTokenRedeem(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	s1, s2 := e.signIn(u, "r1"), e.signIn(u, "r2")
	e.accountToken(u, model.TokenReset, "reset-1", 30*time.Minute)
	if _, err := e.s.RedeemAccountToken(e.ctx, "reset-1", model.TokenInvite, "h", nil); !errors.Is(err, model.ErrAccountTokenInvalid) {
		t.Fatalf("a reset token used as an invitation: %v", err)
	}
	e.clk.Advance(time.Minute)
	got, err := e.s.RedeemAccountToken(e.ctx, "reset-1", model.TokenReset, "new-hash",
		&model.Audit{Action: "auth.password_reset", RequestID: "req"})
	if err != nil || got.ID != u.ID || got.PasswordHash != "new-hash" {
		t.Fatalf("redeem: %+v, %v", got, err)
	}
	if stored, _ := e.s.UserByID(e.ctx, u.ID); stored.PasswordHash != "new-hash" || !stored.UpdatedAt.After(u.UpdatedAt) {
		t.Fatalf("stored user %+v", stored)
	}
	if e.live(s1) || e.live(s2) {
		t.Fatal("a session survived the reset")
	}
	if _, err := e.s.RedeemAccountToken(e.ctx, "reset-1", model.TokenReset, "again", nil); !errors.Is(err, model.ErrAccountTokenInvalid) {
		t.Fatalf("a second use: %v", err)
	}
	audits, _, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Action: "auth.password_reset", Limit: 5})
	if len(audits) != 1 || audits[0].TargetID != u.ID.String() || audits[0].TargetEmail != "ann@example.com" {
		t.Fatalf("audit %+v", audits)
	}
}

func accountTokenSuperseded(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	e.accountToken(u, model.TokenReset, "old", 30*time.Minute)
	e.accountToken(u, model.TokenReset, "new", 30*time.Minute)
	if _, err := e.s.RedeemAccountToken(e.ctx, "old", model.TokenReset, "h", nil); !errors.Is(err, model.ErrAccountTokenInvalid) {
		t.Fatalf("a superseded link: %v", err)
	}
	hash := "changed"
	if _, err := e.s.UpdateUser(e.ctx, u.ID, model.UserChange{PasswordHash: &hash}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.RedeemAccountToken(e.ctx, "new", model.TokenReset, "h", nil); !errors.Is(err, model.ErrAccountTokenInvalid) {
		t.Fatalf("a link after a password change: %v", err)
	}
	// An invitation and a reset are separate links until one is used.
	e.accountToken(u, model.TokenInvite, "inv", 7*24*time.Hour)
	e.accountToken(u, model.TokenReset, "res", 30*time.Minute)
	if _, err := e.s.RedeemAccountToken(e.ctx, "inv", model.TokenInvite, "h2", nil); err != nil {
		t.Fatalf("the invitation: %v", err)
	}
	if _, err := e.s.RedeemAccountToken(e.ctx, "res", model.TokenReset, "h3", nil); !errors.Is(err, model.ErrAccountTokenInvalid) {
		t.Fatalf("a reset link after the password was set: %v", err)
	}
	if err := e.s.CreateAccountToken(e.ctx, model.AccountToken{ID: uuid.Must(uuid.NewV7()), UserID: uuid.Must(uuid.NewV7()),
		Purpose: model.TokenReset, TokenHash: "x", CreatedAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Hour)}, nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a token for an unknown user: %v", err)
	}
}

func accountTokenExpired(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	e.accountToken(u, model.TokenReset, "soon", 30*time.Minute)
	e.clk.Advance(31 * time.Minute)
	if _, err := e.s.RedeemAccountToken(e.ctx, "soon", model.TokenReset, "h", nil); !errors.Is(err, model.ErrAccountTokenInvalid) {
		t.Fatalf("an expired link: %v", err)
	}
	if _, err := e.s.RedeemAccountToken(e.ctx, "never-made", model.TokenReset, "h", nil); !errors.Is(err, model.ErrAccountTokenInvalid) {
		t.Fatalf("an unknown link: %v", err)
	}
	e.user("root@example.com", model.RoleAdmin)
	e.accountToken(u, model.TokenReset, "orphan", 30*time.Minute)
	if err := e.s.DeleteUser(e.ctx, u.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.RedeemAccountToken(e.ctx, "orphan", model.TokenReset, "h", nil); !errors.Is(err, model.ErrAccountTokenInvalid) {
		t.Fatalf("a link of a deleted user: %v", err)
	}
}

func auditNames(t *testing.T, e *env) {
	root := e.user("root@example.com", model.RoleAdmin)
	ann := e.user("ann@example.com", model.RoleUser)
	if _, err := e.s.SetRole(e.ctx, ann.ID, model.RoleAdmin, &model.Audit{ActorID: root.ID.String(), Action: api.AuditRoleChange,
		TargetID: ann.ID.String()}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	if err := e.s.DeleteUser(e.ctx, ann.ID, &model.Audit{ActorID: root.ID.String(), Action: api.AuditUserDeleted,
		TargetID: ann.ID.String()}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AppendAudit(e.ctx, &model.Audit{Action: api.AuditLoginFailed, ActorEmail: "guess@example.com"}); err != nil {
		t.Fatal(err)
	}
	all, _, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Limit: 10})
	if len(all) != 3 {
		t.Fatalf("%d entries", len(all))
	}
	deleted, changed := all[1], all[2]
	if deleted.ActorEmail != "root@example.com" || deleted.TargetEmail != "ann@example.com" ||
		changed.ActorEmail != "root@example.com" || changed.TargetEmail != "ann@example.com" {
		t.Fatalf("names: %+v / %+v", deleted, changed)
	}
	byEmail, n, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Email: "ANN@", Limit: 10})
	if n != 2 || len(byEmail) != 2 {
		t.Fatalf("by a deleted user's email: %d", n)
	}
	if _, n, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Email: "guess", Limit: 10}); n != 1 {
		t.Fatalf("by a given email: %d", n)
	}
	since := changed.At.Add(time.Minute)
	if _, n, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Since: since, Limit: 10}); n != 2 {
		t.Fatalf("since %v: %d", since, n)
	}
	if _, n, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Until: since, Limit: 10}); n != 1 {
		t.Fatalf("until %v: %d", since, n)
	}
}

func shortSessions(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	short, err := e.s.CreateSession(e.ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: "s1",
		ExpiresAt: e.clk.Now().Add(12 * time.Hour), Short: true})
	if err != nil {
		t.Fatal(err)
	}
	long := e.signIn(u, "l1")
	rot := func(old, next string) model.Session {
		se, err := e.s.Rotate(e.ctx, model.Rotation{OldHash: old, NewHash: next, ExpiresAt: e.clk.Now().Add(720 * time.Hour),
			ShortExpiresAt: e.clk.Now().Add(12 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return se
	}
	e.clk.Advance(30 * time.Minute)
	if se := rot("s1", "s2"); se.ID != short || !se.Short || !se.ExpiresAt.Equal(e.clk.Now().Add(12*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("a short session's refresh: %+v", se)
	}
	if se := rot("l1", "l2"); se.ID != long || se.Short || !se.ExpiresAt.Equal(e.clk.Now().Add(720*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("a long session's refresh: %+v", se)
	}
	list, _ := e.s.Sessions(e.ctx, u.ID)
	for _, se := range list {
		if se.Short != (se.ID == short) {
			t.Fatalf("listed %+v", se)
		}
	}
	e.clk.Advance(13 * time.Hour)
	if e.live(short) || !e.live(long) {
		t.Fatal("the short session outlived its lifetime, or the long one did not")
	}
}
