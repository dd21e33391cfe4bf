package storetest

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

func init() {
	register("APIKeysAreFoundByHashListedAndRevoked", apiKeys)
	register("AUserHoldsAtMostTheAllowedNumberOfKeys", apiKeyLimit)
	register("KeyUsesAreRecordedNewestWins", apiKeyUse)
	register("DeletingAUserRevokesTheirKeysAndBudgetAtOnce", deleteUserTakesKeys)
	register("BudgetOverridesAreSetAndCleared", budgetOverrides)
	register("ReservationsStopAtTheLimitAndSettleWithTheirRecords", reservations)
	register("ConcurrentReservationsCannotPassTheLimit", concurrentReservations)
	register("SpendCountsTheCalendarMonthAndLateCosts", monthSpend)
	register("UserUsageByDayAndModel", userUsage)
}

func (e *env) key(user model.User, name string, scopes ...string) model.APIKey {
	e.t.Helper()
	k := model.APIKey{ID: uuid.Must(uuid.NewV7()), UserID: user.ID, Name: name, Prefix: "dg_" + name,
		Hash: "hash-" + name + "-" + uuid.NewString(), Scopes: scopes, CreatedAt: e.clk.Now()}
	if err := e.s.CreateAPIKey(e.ctx, k, &model.Audit{Action: "api_key.created", ActorID: user.ID.String(), TargetID: k.ID.String()}); err != nil {
		e.t.Fatalf("create key %s: %v", name, err)
	}
	return k
}

func apiKeys(t *testing.T, e *env) {
	ann := e.user("ann@example.com", model.RoleUser)
	bob := e.user("bob@example.com", model.RoleUser)
	expires := e.clk.Now().Add(time.Hour)
	first := e.key(ann, "first", model.ScopeAI)
	e.clk.Advance(time.Second)
	second := model.APIKey{ID: uuid.Must(uuid.NewV7()), UserID: ann.ID, Name: "second", Prefix: "dg_second", Hash: "hash-second",
		Scopes: []string{model.ScopeAI, model.ScopeRead}, RequestsPerMinute: 7, CreatedAt: e.clk.Now(), ExpiresAt: &expires}
	if err := e.s.CreateAPIKey(e.ctx, second, nil); err != nil {
		t.Fatal(err)
	}
	bobs := e.key(bob, "bobs", model.ScopeRead)

	got, err := e.s.APIKeyByHash(e.ctx, "hash-second")
	if err != nil || got.ID != second.ID || got.UserID != ann.ID || got.RequestsPerMinute != 7 || len(got.Scopes) != 2 ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(expires) || got.RevokedAt != nil {
		t.Fatalf("by hash: %+v, %v", got, err)
	}
	if _, err := e.s.APIKeyByHash(e.ctx, "no-such-hash"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	if err := e.s.CreateAPIKey(e.ctx, model.APIKey{ID: uuid.Must(uuid.NewV7()), UserID: uuid.Must(uuid.NewV7()), Name: "x",
		Hash: "hash-orphan", Scopes: []string{model.ScopeAI}, CreatedAt: e.clk.Now()}, nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a key of an unknown user: %v, want ErrNotFound", err)
	}

	mine, total, err := e.s.APIKeys(e.ctx, model.APIKeyFilter{UserID: ann.ID, Limit: 10})
	if err != nil || total != 2 || len(mine) != 2 || mine[0].ID != second.ID || mine[1].ID != first.ID {
		t.Fatalf("ann's keys (newest first): %+v, %d, %v", mine, total, err)
	}
	if mine[0].Hash != "hash-second" || mine[0].Prefix != "dg_second" || mine[0].Name != "second" {
		t.Fatalf("listed key fields: %+v", mine[0])
	}
	all, total, _ := e.s.APIKeys(e.ctx, model.APIKeyFilter{Limit: 2})
	if total != 3 || len(all) != 2 || all[0].ID != bobs.ID {
		t.Fatalf("everyone's keys, first page: %+v (%d)", all, total)
	}

	// A user revokes only their own keys; an admin (no owner) any.
	if err := e.s.RevokeAPIKey(e.ctx, bobs.ID, ann.ID, nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ann revoking bob's key: %v, want ErrNotFound", err)
	}
	audit := &model.Audit{Action: "api_key.revoked", ActorID: ann.ID.String()}
	if err := e.s.RevokeAPIKey(e.ctx, first.ID, ann.ID, audit); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.APIKeyByHash(e.ctx, first.Hash); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a revoked key still authenticates: %v", err)
	}
	if err := e.s.RevokeAPIKey(e.ctx, first.ID, ann.ID, nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoking twice: %v, want ErrNotFound", err)
	}
	if err := e.s.RevokeAPIKey(e.ctx, bobs.ID, uuid.Nil, nil); err != nil {
		t.Fatalf("an admin revoking bob's key: %v", err)
	}
	if _, total, _ := e.s.APIKeys(e.ctx, model.APIKeyFilter{Limit: 10}); total != 1 {
		t.Fatalf("revoked keys are still listed: %d", total)
	}
	entries, _, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Action: "api_key.revoked", Limit: 10})
	if len(entries) != 1 || entries[0].TargetID != ann.ID.String() {
		t.Fatalf("revocation audit (target defaults to the key's user): %+v", entries)
	}
	if err := e.s.RevokeAPIKey(e.ctx, uuid.Must(uuid.NewV7()), uuid.Nil, nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoking an unknown key: %v", err)
	}
}

func apiKeyLimit(t *testing.T, e *env) {
	ann := e.user("ann@example.com", model.RoleUser)
	var errs atomic.Int64
	var mu sync.Mutex
	var last model.APIKey
	concurrently(model.MaxAPIKeysPerUser+5, func(i int) {
		k := model.APIKey{ID: uuid.Must(uuid.NewV7()), UserID: ann.ID, Name: fmt.Sprint(i), Hash: fmt.Sprintf("h-%d", i),
			Scopes: []string{model.ScopeAI}, CreatedAt: e.clk.Now()}
		if err := e.s.CreateAPIKey(e.ctx, k, nil); errors.Is(err, model.ErrTooManyKeys) {
			errs.Add(1)
		} else if err != nil {
			t.Errorf("create: %v", err)
		} else {
			mu.Lock()
			last = k
			mu.Unlock()
		}
	})
	if errs.Load() != 5 {
		t.Fatalf("%d creations refused, want 5", errs.Load())
	}
	if err := e.s.RevokeAPIKey(e.ctx, last.ID, ann.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.key(ann, "after-a-revocation", model.ScopeAI)
}

func apiKeyUse(t *testing.T, e *env) {
	ann := e.user("ann@example.com", model.RoleUser)
	k := e.key(ann, "k", model.ScopeAI)
	t1, t2 := e.clk.Now().Add(time.Minute), e.clk.Now().Add(2*time.Minute)
	if err := e.s.RecordKeyUse(e.ctx, []model.KeyUse{{KeyID: k.ID, At: t2, IP: "192.0.2.2"}}); err != nil {
		t.Fatal(err)
	}
	// An older use arriving late changes nothing; an unknown key is ignored.
	if err := e.s.RecordKeyUse(e.ctx, []model.KeyUse{{KeyID: k.ID, At: t1, IP: "192.0.2.1"}, {KeyID: uuid.Must(uuid.NewV7()), At: t2}}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RecordKeyUse(e.ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, got := range []func() model.APIKey{
		func() model.APIKey { k, _ := e.s.APIKeyByHash(e.ctx, k.Hash); return k },
		func() model.APIKey {
			l, _, _ := e.s.APIKeys(e.ctx, model.APIKeyFilter{UserID: ann.ID, Limit: 1})
			return l[0]
		},
	} {
		if g := got(); g.LastUsedAt == nil || !g.LastUsedAt.Equal(t2) || g.LastUsedIP != "192.0.2.2" {
			t.Fatalf("last use: %v %q, want %v 192.0.2.2", g.LastUsedAt, g.LastUsedIP, t2)
		}
	}
}

func deleteUserTakesKeys(t *testing.T, e *env) {
	e.user("root@example.com", model.RoleAdmin)
	ann := e.user("ann@example.com", model.RoleUser)
	k := e.key(ann, "k", model.ScopeAI)
	usd := 3.0
	if err := e.s.SetUserBudget(e.ctx, ann.ID, &usd, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteUser(e.ctx, ann.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.APIKeyByHash(e.ctx, k.Hash); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a deleted user's key still authenticates: %v", err)
	}
	if list, n, _ := e.s.APIKeys(e.ctx, model.APIKeyFilter{Limit: 10}); n != 0 || len(list) != 0 {
		t.Fatalf("a deleted user's keys are listed: %+v", list)
	}
	if b, err := e.s.UserBudget(e.ctx, ann.ID); err != nil || b != nil {
		t.Fatalf("a deleted user's budget: %v, %v", b, err)
	}
}

func budgetOverrides(t *testing.T, e *env) {
	ann := e.user("ann@example.com", model.RoleUser)
	if b, err := e.s.UserBudget(e.ctx, ann.ID); err != nil || b != nil {
		t.Fatalf("no override yet: %v, %v", b, err)
	}
	for _, usd := range []float64{2.5, 0} {
		if err := e.s.SetUserBudget(e.ctx, ann.ID, &usd, &model.Audit{Action: "admin.budget_set"}); err != nil {
			t.Fatal(err)
		}
		if b, err := e.s.UserBudget(e.ctx, ann.ID); err != nil || b == nil || *b != usd {
			t.Fatalf("override %v: %v, %v", usd, b, err)
		}
	}
	if err := e.s.SetUserBudget(e.ctx, ann.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := e.s.UserBudget(e.ctx, ann.ID); b != nil {
		t.Fatalf("cleared override: %v", *b)
	}
	usd := 1.0
	if err := e.s.SetUserBudget(e.ctx, uuid.Must(uuid.NewV7()), &usd, nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("an unknown user's budget: %v, want ErrNotFound", err)
	}
	if _, n, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Action: "admin.budget_set", Limit: 10}); n != 2 {
		t.Fatalf("%d budget audits, want 2", n)
	}
}

func (e *env) reservation(user uuid.UUID, amount float64) model.Reservation {
	return model.Reservation{ID: uuid.Must(uuid.NewV7()), UserID: user, Amount: amount, Month: e.clk.Now(),
		ExpiresAt: e.clk.Now().Add(time.Hour)}
}

func cost(v float64) *float64 { return &v }

func reservations(t *testing.T, e *env) {
	ann := uuid.Must(uuid.NewV7())
	r1 := e.reservation(ann, 0.6)
	sp, err := e.s.ReserveSpend(e.ctx, r1, 1)
	if err != nil || sp.SpentUSD != 0 || sp.ReservedUSD != 0.6 {
		t.Fatalf("first reservation: %+v, %v", sp, err)
	}
	r2 := e.reservation(ann, 0.6)
	if _, err := e.s.ReserveSpend(e.ctx, r2, 1); err != nil {
		t.Fatalf("a call starting under the limit (0.6 of 1) is refused: %v", err)
	}
	sp, err = e.s.ReserveSpend(e.ctx, e.reservation(ann, 0.1), 1)
	if !errors.Is(err, model.ErrOverBudget) || math.Abs(sp.ReservedUSD-1.2) > 1e-9 {
		t.Fatalf("a call starting at 1.2 of 1: %+v, %v, want ErrOverBudget", sp, err)
	}
	// The first call ends cheaper than reserved: its record settles it.
	if err := e.s.InsertUsage(e.ctx, []model.UsageRecord{{At: e.clk.Now(), UserID: ann, Kind: model.KindChat, Model: "m",
		Status: model.UsageStatusOK, Cost: cost(0.1), Reservation: r1.ID}}); err != nil {
		t.Fatal(err)
	}
	sp, _ = e.s.MonthSpend(e.ctx, ann, e.clk.Now())
	if math.Abs(sp.SpentUSD-0.1) > 1e-9 || math.Abs(sp.ReservedUSD-0.6) > 1e-9 {
		t.Fatalf("after settling: %+v, want 0.1 spent and 0.6 reserved", sp)
	}
	if _, err := e.s.ReserveSpend(e.ctx, e.reservation(ann, 0.1), 1); err != nil {
		t.Fatalf("0.7 of 1 in use: %v", err)
	}
	// A released reservation frees its share; an expired one too.
	if err := e.s.ReleaseSpend(e.ctx, ann, r2.ID); err != nil {
		t.Fatal(err)
	}
	if sp, _ = e.s.MonthSpend(e.ctx, ann, e.clk.Now()); math.Abs(sp.ReservedUSD-0.1) > 1e-9 {
		t.Fatalf("after a release: %+v", sp)
	}
	e.clk.Advance(2 * time.Hour)
	if sp, _ = e.s.MonthSpend(e.ctx, ann, e.clk.Now()); sp.ReservedUSD != 0 {
		t.Fatalf("an expired reservation still counts: %+v", sp)
	}
	// A limit of 0 refuses every call.
	if _, err := e.s.ReserveSpend(e.ctx, e.reservation(uuid.Must(uuid.NewV7()), 0), 0); !errors.Is(err, model.ErrOverBudget) {
		t.Fatalf("a limit of 0: %v", err)
	}
}

func concurrentReservations(t *testing.T, e *env) {
	ann := uuid.Must(uuid.NewV7())
	const limit, each, callers = 1.0, 0.125, 40 // exact in binary
	var granted atomic.Int64
	concurrently(callers, func(int) {
		if _, err := e.s.ReserveSpend(e.ctx, e.reservation(ann, each), limit); err == nil {
			granted.Add(1)
		} else if !errors.Is(err, model.ErrOverBudget) {
			t.Errorf("reserve: %v", err)
		}
	})
	// Each call starts below the limit: the last one granted saw 0.875 in
	// use, so exactly eight fit.
	if granted.Load() != 8 {
		t.Fatalf("%d of %d concurrent calls of %.3f reserved under a limit of %.1f, want 8", granted.Load(), callers, each, limit)
	}
}

func monthSpend(t *testing.T, e *env) {
	ann := uuid.Must(uuid.NewV7())
	now := e.clk.Now() // 2026-01-02
	lastMonth := now.AddDate(0, -1, 0)
	if err := e.s.InsertUsage(e.ctx, []model.UsageRecord{
		{At: lastMonth, UserID: ann, Kind: model.KindChat, Model: "m", Status: model.UsageStatusOK, Cost: cost(5)},
		{At: now, UserID: ann, Kind: model.KindChat, Model: "m", Status: model.UsageStatusOK, Cost: cost(0.25)},
		{At: now, UserID: ann, Kind: model.KindVideo, Model: "v", Status: model.UsageStatusOK, GenerationID: "gen-late"},
		{At: now, UserID: uuid.Must(uuid.NewV7()), Kind: model.KindChat, Model: "m", Status: model.UsageStatusOK, Cost: cost(7)},
	}); err != nil {
		t.Fatal(err)
	}
	sp, err := e.s.MonthSpend(e.ctx, ann, now)
	if err != nil || sp.SpentUSD != 0.25 {
		t.Fatalf("this month: %+v, %v, want 0.25", sp, err)
	}
	if sp, _ := e.s.MonthSpend(e.ctx, ann, lastMonth); sp.SpentUSD != 5 {
		t.Fatalf("last month: %+v, want 5", sp)
	}
	// A video's cost arrives when its job completes.
	j := &model.VideoJob{UserID: ann, UpstreamID: "up", PollingURL: "/p", Status: "pending", Model: "v", Prompt: "p",
		Params: "{}", CreatedAt: now, UpdatedAt: now}
	if err := e.s.CreateVideoJob(e.ctx, j); err != nil {
		t.Fatal(err)
	}
	done := *j
	done.Status, done.Cost, done.GenerationID = "completed", cost(0.5), "gen-late"
	if err := e.s.UpdateVideoJob(e.ctx, done); err != nil {
		t.Fatal(err)
	}
	if sp, _ := e.s.MonthSpend(e.ctx, ann, now); sp.SpentUSD != 0.75 {
		t.Fatalf("after the video's cost: %+v, want 0.75", sp)
	}
	if _, err := e.s.ReserveSpend(e.ctx, e.reservation(ann, 0.01), 0.75); !errors.Is(err, model.ErrOverBudget) {
		t.Fatalf("a call at the limit: %v, want ErrOverBudget", err)
	}
}

func userUsage(t *testing.T, e *env) {
	ann, bob := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	now := e.clk.Now()
	rec := func(user uuid.UUID, at time.Time, m string, c float64, status string) model.UsageRecord {
		return model.UsageRecord{At: at, UserID: user, Kind: model.KindChat, Model: m, Status: status, LatencyMS: 4,
			PromptTokens: 10, CompletionTokens: 20, Cost: cost(c)}
	}
	if err := e.s.InsertUsage(e.ctx, []model.UsageRecord{
		rec(ann, now, "m/a", 0.5, model.UsageStatusOK),
		rec(ann, now, "m/b", 1, model.UsageStatusOK),
		rec(ann, now.Add(-24*time.Hour), "m/a", 0.25, "502"),
		rec(ann, now.Add(-10*24*time.Hour), "m/a", 9, model.UsageStatusOK), // before the period
		rec(bob, now, "m/a", 3, model.UsageStatusOK),
	}); err != nil {
		t.Fatal(err)
	}
	u, err := e.s.UserUsage(e.ctx, ann, now.Add(-7*24*time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(u.ByDay) != 2 || u.ByDay[0].Key != now.Add(-24*time.Hour).Format("2006-01-02") || u.ByDay[0].Errors != 1 ||
		u.ByDay[1].Key != now.Format("2006-01-02") || u.ByDay[1].Requests != 2 || u.ByDay[1].Cost != 1.5 || u.ByDay[1].PromptTokens != 20 {
		t.Fatalf("by day: %+v", u.ByDay)
	}
	if len(u.ByModel) != 2 || u.ByModel[0].Key != "m/b" || u.ByModel[1].Key != "m/a" || u.ByModel[1].Cost != 0.75 || u.ByModel[1].Requests != 2 {
		t.Fatalf("by model: %+v", u.ByModel)
	}
	empty, err := e.s.UserUsage(e.ctx, uuid.Must(uuid.NewV7()), now.Add(-time.Hour), now)
	if err != nil || empty.ByDay == nil || empty.ByModel == nil || len(empty.ByDay) != 0 {
		t.Fatalf("no use: %+v, %v", empty, err)
	}
}
