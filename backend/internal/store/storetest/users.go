package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

func init() {
	register("UsersRoundTrip", usersRoundTrip)
	register("OneAccountPerEmailUnderConcurrency", oneAccountPerEmail)
	register("EmailChangeToATakenEmailIsRefused", emailChangeToTakenEmail)
	register("ConcurrentEmailChangesToOneEmailSucceedOnce", concurrentEmailChanges)
	register("EnsureAdminCreatesTheFirstAdminOnce", ensureAdmin)
	register("EnsureAdminPromotesAnExistingAccount", ensureAdminPromotes)
	register("LastAdminCannotBeDemotedOrDeleted", lastAdmin)
	register("ConcurrentDemotionsKeepAnAdmin", concurrentDemotions)
	register("DeletingAUserEndsTheirSessions", deleteUserCascade)
	register("ListUsersPagesAndSearches", listUsers)
}

func usersRoundTrip(t *testing.T, e *env) {
	u := e.user("ann@example.com", model.RoleUser)
	byID, err := e.s.UserByID(e.ctx, u.ID)
	if err != nil || byID.Email != u.Email || byID.Role != u.Role || byID.PasswordHash != u.PasswordHash ||
		!byID.CreatedAt.Equal(u.CreatedAt) || !byID.UpdatedAt.Equal(u.UpdatedAt) {
		t.Fatalf("by id: %+v, %v; want %+v", byID, err, u)
	}
	byEmail, err := e.s.UserByEmail(e.ctx, "ann@example.com")
	if err != nil || byEmail.ID != u.ID {
		t.Fatalf("by email: %+v, %v", byEmail, err)
	}
	if _, err := e.s.UserByID(e.ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown id: %v, want ErrNotFound", err)
	}
	if _, err := e.s.UserByEmail(e.ctx, "nobody@example.com"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown email: %v, want ErrNotFound", err)
	}
	if err := e.s.CreateUser(e.ctx, model.NewUser("ann@example.com", "h", model.RoleUser, e.clk.Now()), nil); !errors.Is(err, model.ErrEmailTaken) {
		t.Fatalf("second account with the email: %v, want ErrEmailTaken", err)
	}

	newEmail, newHash := "ann.b@example.com", "hash-2"
	e.clk.Advance(1e9)
	changed, err := e.s.UpdateUser(e.ctx, u.ID, model.UserChange{Email: &newEmail, PasswordHash: &newHash},
		&model.Audit{ActorID: u.ID.String(), Action: "user.email_changed", TargetID: u.ID.String()})
	if err != nil || changed.Email != newEmail || changed.PasswordHash != newHash || !changed.UpdatedAt.After(u.UpdatedAt) {
		t.Fatalf("update: %+v, %v", changed, err)
	}
	reread, _ := e.s.UserByID(e.ctx, u.ID)
	if reread.Email != newEmail || reread.PasswordHash != newHash {
		t.Fatalf("update not kept: %+v", reread)
	}
	if _, err := e.s.UserByEmail(e.ctx, "ann@example.com"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("the old email still finds the account: %v", err)
	}
	if _, err := e.s.UpdateUser(e.ctx, uuid.Must(uuid.NewV7()), model.UserChange{Email: &newEmail}); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("update of an unknown user: %v, want ErrNotFound", err)
	}
	audits, _, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Limit: 10})
	if len(audits) != 1 || audits[0].Action != "user.email_changed" {
		t.Fatalf("the update's audit entry: %+v", audits)
	}
}

func oneAccountPerEmail(t *testing.T, e *env) {
	var created, taken atomic.Int32
	concurrently(20, func(int) {
		err := e.s.CreateUser(e.ctx, model.NewUser("race@example.com", "h", model.RoleUser, e.clk.Now()), nil)
		switch {
		case err == nil:
			created.Add(1)
		case errors.Is(err, model.ErrEmailTaken):
			taken.Add(1)
		default:
			t.Errorf("unexpected: %v", err)
		}
	})
	if created.Load() != 1 || taken.Load() != 19 {
		t.Fatalf("created %d, taken %d; want 1 and 19", created.Load(), taken.Load())
	}
}

func emailChangeToTakenEmail(t *testing.T, e *env) {
	a := e.user("a@example.com", model.RoleUser)
	e.user("b@example.com", model.RoleUser)
	taken := "b@example.com"
	if _, err := e.s.UpdateUser(e.ctx, a.ID, model.UserChange{Email: &taken}); !errors.Is(err, model.ErrEmailTaken) {
		t.Fatalf("change to a taken email: %v, want ErrEmailTaken", err)
	}
	if got, _ := e.s.UserByID(e.ctx, a.ID); got.Email != "a@example.com" {
		t.Fatalf("the refused change was kept: %+v", got)
	}
	same := "a@example.com"
	if _, err := e.s.UpdateUser(e.ctx, a.ID, model.UserChange{Email: &same}); err != nil {
		t.Fatalf("keeping one's own email: %v", err)
	}
}

// concurrentEmailChanges: several accounts take one new email at the same
// moment; one gets it, the others are refused and keep theirs.
func concurrentEmailChanges(t *testing.T, e *env) {
	var users []model.User
	for i := range 8 {
		users = append(users, e.user(fmt.Sprintf("u%d@example.com", i), model.RoleUser))
	}
	wanted := "wanted@example.com"
	var changed, taken atomic.Int64
	concurrently(len(users), func(i int) {
		_, err := e.s.UpdateUser(e.ctx, users[i].ID, model.UserChange{Email: &wanted})
		switch {
		case err == nil:
			changed.Add(1)
		case errors.Is(err, model.ErrEmailTaken):
			taken.Add(1)
		default:
			t.Errorf("unexpected: %v", err)
		}
	})
	if changed.Load() != 1 || taken.Load() != int64(len(users)-1) {
		t.Fatalf("changed %d, refused %d; want 1 and %d", changed.Load(), taken.Load(), len(users)-1)
	}
	owner, err := e.s.UserByEmail(e.ctx, wanted)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range users {
		got, _ := e.s.UserByID(e.ctx, u.ID)
		if u.ID != owner.ID && got.Email != fmt.Sprintf("u%d@example.com", i) {
			t.Fatalf("a refused change was kept: %+v", got)
		}
	}
}

func ensureAdmin(t *testing.T, e *env) {
	created, err := e.s.EnsureAdmin(e.ctx, model.NewUser("root@example.com", "h", model.RoleAdmin, e.clk.Now()))
	if err != nil || !created {
		t.Fatalf("first admin: created=%v, %v", created, err)
	}
	again, err := e.s.EnsureAdmin(e.ctx, model.NewUser("other@example.com", "h", model.RoleAdmin, e.clk.Now()))
	if err != nil || again {
		t.Fatalf("with an admin present: created=%v, %v", again, err)
	}
	if counts, _ := e.s.RoleCounts(e.ctx); counts[model.RoleAdmin] != 1 || counts[model.RoleUser] != 0 {
		t.Fatalf("role counts %v", counts)
	}
	if _, err := e.s.UserByEmail(e.ctx, "other@example.com"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a second admin was created: %v", err)
	}
}

// ensureAdminPromotes: on a database without admins, an existing account
// with the admin's email is promoted rather than duplicated.
func ensureAdminPromotes(t *testing.T, e *env) {
	existing := e.user("root@example.com", model.RoleUser)
	created, err := e.s.EnsureAdmin(e.ctx, model.NewUser("root@example.com", "other-hash", model.RoleAdmin, e.clk.Now()))
	if err != nil || created {
		t.Fatalf("promotion: created=%v, %v", created, err)
	}
	got, err := e.s.UserByEmail(e.ctx, "root@example.com")
	if err != nil || got.ID != existing.ID || got.Role != model.RoleAdmin || got.PasswordHash != existing.PasswordHash {
		t.Fatalf("promoted account %+v, %v", got, err)
	}
}

func lastAdmin(t *testing.T, e *env) {
	a := e.user("root@example.com", model.RoleAdmin)
	if _, err := e.s.SetRole(e.ctx, a.ID, model.RoleUser, nil); !errors.Is(err, model.ErrLastAdmin) {
		t.Fatalf("demote the last admin: %v, want ErrLastAdmin", err)
	}
	if err := e.s.DeleteUser(e.ctx, a.ID, nil); !errors.Is(err, model.ErrLastAdmin) {
		t.Fatalf("delete the last admin: %v, want ErrLastAdmin", err)
	}
	if got, _ := e.s.UserByID(e.ctx, a.ID); got.Role != model.RoleAdmin {
		t.Fatalf("refused demotion was kept: %+v", got)
	}
	b := e.user("second@example.com", model.RoleUser)
	promoted, err := e.s.SetRole(e.ctx, b.ID, model.RoleAdmin, &model.Audit{Action: "admin.role_changed", TargetID: b.ID.String()})
	if err != nil || promoted.Role != model.RoleAdmin {
		t.Fatalf("promote: %+v, %v", promoted, err)
	}
	if got, _ := e.s.UserByID(e.ctx, b.ID); got.Role != model.RoleAdmin {
		t.Fatalf("promotion not visible to the next read: %+v", got)
	}
	if _, err := e.s.SetRole(e.ctx, a.ID, model.RoleUser, nil); err != nil {
		t.Fatalf("demote with another admin left: %v", err)
	}
	if same, err := e.s.SetRole(e.ctx, a.ID, model.RoleUser, nil); err != nil || same.Role != model.RoleUser {
		t.Fatalf("setting the role a user has: %+v, %v", same, err)
	}
	if _, err := e.s.SetRole(e.ctx, uuid.Must(uuid.NewV7()), model.RoleAdmin, nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("role of an unknown user: %v, want ErrNotFound", err)
	}
	if err := e.s.DeleteUser(e.ctx, uuid.Must(uuid.NewV7()), nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("delete an unknown user: %v, want ErrNotFound", err)
	}
}

// concurrentDemotions demotes and deletes every admin at once, many times
// over: whatever the interleaving, one admin must remain.
func concurrentDemotions(t *testing.T, e *env) {
	for round := range 5 {
		var admins []model.User
		for i := range 4 {
			admins = append(admins, e.user(fmt.Sprintf("admin-%d-%d@example.com", round, i), model.RoleAdmin))
		}
		concurrently(len(admins), func(i int) {
			var err error
			if i%2 == 0 {
				_, err = e.s.SetRole(e.ctx, admins[i].ID, model.RoleUser, nil)
			} else {
				err = e.s.DeleteUser(e.ctx, admins[i].ID, nil)
			}
			if err != nil && !errors.Is(err, model.ErrLastAdmin) {
				t.Errorf("round %d: %v", round, err)
			}
		})
		counts, err := e.s.RoleCounts(e.ctx)
		if err != nil || counts[model.RoleAdmin] != 1 {
			t.Fatalf("round %d: %d admins left (%v), want exactly 1", round, counts[model.RoleAdmin], err)
		}
	}
}

func deleteUserCascade(t *testing.T, e *env) {
	e.user("root@example.com", model.RoleAdmin)
	u := e.user("eve@example.com", model.RoleUser)
	_, _ = e.s.UserByID(e.ctx, u.ID) // in any cache there is
	first := e.signIn(u, "eve-1")
	second := e.signIn(u, "eve-2")
	if _, err := e.rotate("eve-2", "eve-3"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteUser(e.ctx, u.ID, &model.Audit{Action: "admin.user_deleted", TargetID: u.ID.String()}); err != nil {
		t.Fatal(err)
	}
	if e.live(first) || e.live(second) {
		t.Fatal("a session of the deleted user is still live")
	}
	if _, err := e.s.UserByID(e.ctx, u.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("deleted user still readable: %v", err)
	}
	if _, err := e.s.UserByEmail(e.ctx, "eve@example.com"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("deleted user still found by email: %v", err)
	}
	if _, err := e.rotate("eve-3", "eve-4"); !errors.Is(err, model.ErrTokenInvalid) {
		t.Fatalf("refresh of a deleted user's session: %v, want ErrTokenInvalid", err)
	}
	if list, _ := e.s.Sessions(e.ctx, u.ID); len(list) != 0 {
		t.Fatalf("deleted user has sessions listed: %+v", list)
	}
	// The email is free again.
	e.user("eve@example.com", model.RoleUser)
}

func listUsers(t *testing.T, e *env) {
	var made []model.User
	for i := range 25 {
		email := fmt.Sprintf("user%02d@example.com", i)
		if i%5 == 0 {
			email = fmt.Sprintf("staff%02d@corp.example", i)
		}
		made = append(made, e.user(email, model.RoleUser))
		e.clk.Advance(1e6)
	}
	e.user("100%_sure@example.com", model.RoleUser)

	page, err := e.s.ListUsers(e.ctx, "", 10, 0)
	if err != nil || page.Total != 26 || len(page.Users) != 10 || page.Users[0].ID != made[0].ID || page.Users[9].ID != made[9].ID {
		t.Fatalf("first page: total %d, %d users, %v", page.Total, len(page.Users), err)
	}
	page, _ = e.s.ListUsers(e.ctx, "", 10, 20)
	if page.Total != 26 || len(page.Users) != 6 || page.Users[0].ID != made[20].ID {
		t.Fatalf("last page: total %d, %d users", page.Total, len(page.Users))
	}
	if page, _ = e.s.ListUsers(e.ctx, "", 10, 100); page.Total != 26 || len(page.Users) != 0 {
		t.Fatalf("past the end: total %d, %d users", page.Total, len(page.Users))
	}
	page, _ = e.s.ListUsers(e.ctx, "CORP", 50, 0)
	if page.Total != 5 || len(page.Users) != 5 || page.Users[0].Email != "staff00@corp.example" {
		t.Fatalf("search is case-insensitive on a substring: %+v", page)
	}
	// Search text is matched literally, not as a pattern.
	if page, _ = e.s.ListUsers(e.ctx, "%_", 50, 0); page.Total != 1 || page.Users[0].Email != "100%_sure@example.com" {
		t.Fatalf("%%_ matched as a pattern: %+v", page)
	}
	if page, _ = e.s.ListUsers(e.ctx, "nobody", 50, 0); page.Total != 0 || len(page.Users) != 0 {
		t.Fatalf("no match: %+v", page)
	}
}
