package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/store/storetest"
)

// What the DuckDB engine keeps in its one process (API keys, spend and
// reservations, image use) and the invariants its one writer serialises
// (key limits, account links, conversation sends), held across replicas:
// two stores on one database are two replicas.

// replicasAt opens n stores on one fresh database, reading the time from
// now.
func replicasAt(t *testing.T, n int, now func() time.Time) []*Store {
	t.Helper()
	url := pg.Database(t)
	out := make([]*Store, n)
	for i := range out {
		out[i] = openStoreAt(t, url, Options{Now: now})
	}
	return out
}

// together runs fn(i) for i in [0, n) at once and waits for all.
func together(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func newKey(user uuid.UUID, name string) model.APIKey {
	return model.APIKey{ID: uuid.Must(uuid.NewV7()), UserID: user, Name: name, Prefix: "dg_" + name,
		Hash: "hash-" + name + "-" + uuid.NewString(), Scopes: []string{model.ScopeAI}, CreatedAt: time.Now()}
}

// A key revoked on replica A, or whose user A deletes, is refused by
// replica B, which had it cached. B's entries are made to live for an hour
// here, so only the notification can tell B.
func TestARevokedKeyIsRefusedByTheOtherReplica(t *testing.T) {
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	b.cache.ttl = time.Hour
	ctx := context.Background()
	mustUser(t, a, "root@example.com", model.RoleAdmin)
	for i, end := range []struct {
		name string
		end  func(k model.APIKey) error
	}{
		{"revocation", func(k model.APIKey) error { return a.RevokeAPIKey(ctx, k.ID, uuid.Nil, nil) }},
		{"the user's deletion", func(k model.APIKey) error { return a.DeleteUser(ctx, k.UserID, nil) }},
	} {
		t.Run(end.name, func(t *testing.T) {
			u := mustUser(t, a, fmt.Sprintf("user%d@example.com", i), model.RoleUser)
			k := newKey(u.ID, fmt.Sprint(i))
			if err := a.CreateAPIKey(ctx, k, nil); err != nil {
				t.Fatal(err)
			}
			// B knows the new key at once (misses are not cached), and
			// caches it.
			if got, err := b.APIKeyByHash(ctx, k.Hash); err != nil || got.ID != k.ID {
				t.Fatalf("replica B before: %+v %v", got, err)
			}
			if _, ok, _ := b.cache.key(k.Hash); !ok {
				t.Fatal("replica B did not cache the key")
			}
			if err := end.end(k); err != nil {
				t.Fatal(err)
			}
			within(t, 5*time.Second, "replica B refuses the key", func() bool {
				_, err := b.APIKeyByHash(ctx, k.Hash)
				return errors.Is(err, model.ErrNotFound)
			})
		})
	}
}

// A key revoked without a notification (by hand in the table, or a
// notification lost) is refused once the cached entry's lifetime is over.
func TestACachedKeyOutlivesALostNotificationForLittle(t *testing.T) {
	s := replicas(t, 1)[0]
	ctx := context.Background()
	u := mustUser(t, s, "ann@example.com", model.RoleUser)
	k := newKey(u.ID, "k")
	if err := s.CreateAPIKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.APIKeyByHash(ctx, k.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "UPDATE api_keys SET revoked_at = now() WHERE id = $1", k.ID); err != nil {
		t.Fatal(err)
	}
	within(t, s.cache.ttl+200*time.Millisecond, "the silent revocation", func() bool {
		_, err := s.APIKeyByHash(ctx, k.Hash)
		return errors.Is(err, model.ErrNotFound)
	})
}

// Two replicas flush their batches of key uses at the same moments, over
// the same keys in opposite orders, with interleaved times: every key ends
// with the newest use either saw, and no batch fails (no deadlock).
func TestKeyUsesFromTwoReplicasKeepTheNewest(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	u := mustUser(t, rs[0], "ann@example.com", model.RoleUser)
	var keys []model.APIKey
	for i := range 20 {
		k := newKey(u.ID, fmt.Sprint(i))
		if err := rs[0].CreateAPIKey(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	base := time.Now().UTC().Truncate(time.Microsecond)
	const rounds = 10
	newest := make([]time.Time, len(keys))
	for round := range rounds {
		batches := make([][]model.KeyUse, 2)
		for r := range batches {
			for j := range keys {
				i := j
				if r == 1 {
					i = len(keys) - 1 - j // the other replica's batch runs the other way
				}
				// Odd keys get their newer use from replica 0, even ones
				// from replica 1; each round is newer than the last.
				at := base.Add(time.Duration(round*10+r*2+(i+r)%2) * time.Second)
				batches[r] = append(batches[r], model.KeyUse{KeyID: keys[i].ID, At: at, IP: fmt.Sprintf("192.0.2.%d", r)})
				if at.After(newest[i]) {
					newest[i] = at
				}
			}
		}
		together(2, func(r int) {
			if err := rs[r].RecordKeyUse(ctx, batches[r]); err != nil {
				t.Errorf("round %d, replica %d: %v", round, r, err)
			}
		})
	}
	list, _, err := rs[1].APIKeys(ctx, model.APIKeyFilter{UserID: u.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[uuid.UUID]model.APIKey{}
	for _, k := range list {
		byID[k.ID] = k
	}
	for i, k := range keys {
		got := byID[k.ID]
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(newest[i]) {
			t.Fatalf("key %d: last use %v, want the newest %v", i, got.LastUsedAt, newest[i])
		}
	}
}

// A user's live keys stay within the limit when creations race on two
// replicas.
func TestTheKeyLimitHoldsAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	u := mustUser(t, rs[0], "ann@example.com", model.RoleUser)
	var refused atomic.Int32
	together(model.MaxAPIKeysPerUser+6, func(i int) {
		err := rs[i%2].CreateAPIKey(ctx, newKey(u.ID, fmt.Sprint(i)), nil)
		if errors.Is(err, model.ErrTooManyKeys) {
			refused.Add(1)
		} else if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
	})
	if _, n, _ := rs[1].APIKeys(ctx, model.APIKeyFilter{UserID: u.ID, Limit: 100}); n != model.MaxAPIKeysPerUser || refused.Load() != 6 {
		t.Fatalf("%d live keys, %d refused; want %d and 6", n, refused.Load(), model.MaxAPIKeysPerUser)
	}
}

// Calls of one user starting at once on two replicas reserve no more than
// the limit lets start; a record written on one replica settles a
// reservation made on the other; a reservation of a replica that died
// counts until it expires, then no more.
func TestReservationsAcrossReplicas(t *testing.T) {
	clk := storetest.NewClock()
	rs := replicasAt(t, 3, clk.Now)
	ctx := context.Background()
	ann := uuid.Must(uuid.NewV7())
	reservation := func(amount float64) model.Reservation {
		return model.Reservation{ID: uuid.Must(uuid.NewV7()), UserID: ann, Amount: amount, Month: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}
	}
	const limit, each, callers = 1.0, 0.125, 40
	var granted []model.Reservation
	var mu sync.Mutex
	together(callers, func(i int) {
		r := reservation(each)
		if _, err := rs[i%2].ReserveSpend(ctx, r, limit); err == nil {
			mu.Lock()
			granted = append(granted, r)
			mu.Unlock()
		} else if !errors.Is(err, model.ErrOverBudget) {
			t.Errorf("reserve %d: %v", i, err)
		}
	})
	if len(granted) != 8 {
		t.Fatalf("%d of %d calls of %.3f reserved on two replicas under a limit of %.1f, want 8", len(granted), callers, each, limit)
	}
	// Replica 1 records the first call's cost (more than its estimate):
	// replica 0 counts the cost and no longer the estimate.
	cost := 0.5
	if err := rs[1].InsertUsage(ctx, []model.UsageRecord{{At: clk.Now(), UserID: ann, Kind: model.KindChat, Model: "m",
		Status: model.UsageStatusOK, Cost: &cost, Reservation: granted[0].ID}}); err != nil {
		t.Fatal(err)
	}
	sp, err := rs[0].MonthSpend(ctx, ann, clk.Now())
	if err != nil || sp.SpentUSD != 0.5 || sp.ReservedUSD != 7*each {
		t.Fatalf("after a record on the other replica: %+v %v, want 0.5 spent and %.3f reserved", sp, err, 7*each)
	}
	// Replica 2 dies with a call in flight; its reservation holds until
	// it expires.
	for i, r := range granted[1:] {
		if err := rs[i%2].ReleaseSpend(ctx, ann, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rs[2].ReserveSpend(ctx, reservation(0.5), limit); err != nil {
		t.Fatal(err)
	}
	rs[2].Close()
	if sp, err := rs[0].ReserveSpend(ctx, reservation(0.1), limit); !errors.Is(err, model.ErrOverBudget) || sp.ReservedUSD != 0.5 {
		t.Fatalf("0.5 spent and 0.5 held by a dead replica's call: %+v %v, want ErrOverBudget", sp, err)
	}
	clk.Advance(2 * time.Hour)
	if sp, err := rs[1].ReserveSpend(ctx, reservation(0.1), limit); err != nil || math.Abs(sp.ReservedUSD-0.1) > 1e-9 {
		t.Fatalf("after the dead replica's reservation expired: %+v %v", sp, err)
	}
}

// Image bytes and budget overrides written on one replica count on the
// other at once: they are read from the tables, not kept in a process.
func TestImageUseAndBudgetsAreSeenByEveryReplica(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	u := mustUser(t, rs[0], "ann@example.com", model.RoleUser)
	if err := rs[0].SaveImages(ctx, []model.StoredImage{{ID: uuid.Must(uuid.NewV7()), UserID: u.ID, MediaType: "image/png",
		Content: []byte("0123456789"), Bytes: 10, CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if n, err := rs[1].ImageBytes(ctx, u.ID); err != nil || n != 10 {
		t.Fatalf("image bytes on the other replica: %d %v", n, err)
	}
	for _, usd := range []*float64{ptr(2.5), nil} {
		if err := rs[0].SetUserBudget(ctx, u.ID, usd, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := rs[1].UserBudget(ctx, u.ID); err != nil || (got == nil) != (usd == nil) || (got != nil && *got != *usd) {
			t.Fatalf("budget on the other replica: %v %v, want %v", got, err, usd)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// Two replicas making a reset link for one user at once leave exactly one
// usable; two redeeming one link at once set the password once.
func TestAccountLinksAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	u := mustUser(t, rs[0], "ann@example.com", model.RoleUser)
	for round := range 5 {
		hashes := []string{fmt.Sprintf("r%d-a", round), fmt.Sprintf("r%d-b", round)}
		together(2, func(i int) {
			if err := rs[i].CreateAccountToken(ctx, model.AccountToken{ID: uuid.Must(uuid.NewV7()), UserID: u.ID, Purpose: model.TokenReset,
				TokenHash: hashes[i], CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, nil); err != nil {
				t.Errorf("create: %v", err)
			}
		})
		var usable int
		var link string
		for _, h := range hashes {
			var used *time.Time
			if err := rs[0].pool.QueryRow(ctx, "SELECT used_at FROM account_tokens WHERE token_hash = $1", h).Scan(&used); err != nil {
				t.Fatal(err)
			}
			if used == nil {
				usable++
				link = h
			}
		}
		if usable != 1 {
			t.Fatalf("round %d: %d usable links, want 1", round, usable)
		}
		var ok atomic.Int32
		together(6, func(i int) {
			_, err := rs[i%2].RedeemAccountToken(ctx, link, model.TokenReset, fmt.Sprintf("hash-%d", i), nil)
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, model.ErrAccountTokenInvalid) {
				t.Errorf("redeem: %v", err)
			}
		})
		if ok.Load() != 1 {
			t.Fatalf("round %d: the link worked %d times, want once", round, ok.Load())
		}
	}
}

// Sends to one conversation racing on two replicas: one is stored, the
// others are told the conversation changed.
func TestConcurrentSendsAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	u := mustUser(t, rs[0], "ann@example.com", model.RoleUser)
	c := model.NewConversation(u.ID, time.Now())
	if err := rs[0].CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		var ok atomic.Int32
		together(8, func(i int) {
			msgs := []model.Message{{Role: "user", Content: fmt.Sprintf("q%d", i)}, {Role: "assistant", Content: "a"}}
			err := rs[i%2].ReplaceMessages(ctx, u.ID, c.ID, 2*round, 2*round, msgs, "")
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, model.ErrConversationChanged) {
				t.Errorf("send %d: %v", i, err)
			}
		})
		_, msgs, err := rs[1].Conversation(ctx, u.ID, c.ID)
		if err != nil || ok.Load() != 1 || len(msgs) != 2*(round+1) {
			t.Fatalf("round %d: %d sends stored, %d messages (%v); want 1 and %d", round, ok.Load(), len(msgs), err, 2*(round+1))
		}
	}
}
