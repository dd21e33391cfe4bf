package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// The engine's own guarantees, beyond the contract every engine keeps: the
// ones several replicas on one database rely on. Two stores opened on one
// database are two replicas.

func mustUser(t testing.TB, s *Store, email, role string) model.User {
	t.Helper()
	u := model.NewUser(email, "hash", role, s.now())
	if err := s.CreateUser(context.Background(), u, nil); err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return u
}

func signIn(t testing.TB, s *Store, u model.User, hash string) uuid.UUID {
	t.Helper()
	family, err := s.CreateSession(context.Background(), model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt,
		TokenHash: hash, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	return family
}

// replicas opens n stores on one fresh database.
func replicas(t *testing.T, n int) []*Store {
	t.Helper()
	url := pg.Database(t)
	out := make([]*Store, n)
	for i := range out {
		out[i] = openStoreAt(t, url, Options{})
	}
	return out
}

// within fails the test unless cond holds within d, and says how long it took.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func TestReplicasStartingTogetherMigrateOnce(t *testing.T) {
	url := pg.Database(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), url, Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	s := openStoreAt(t, url, Options{})
	var rows, versions int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != LatestSchema() || versions != LatestSchema() {
		t.Fatalf("schema_migrations has %d rows of %d versions, want %d once each", rows, versions, LatestSchema())
	}
}

func TestNewerSchemaStopsStartUp(t *testing.T) {
	url := pg.Database(t)
	s := openStoreAt(t, url, Options{})
	if _, err := s.pool.Exec(context.Background(), "INSERT INTO schema_migrations VALUES (9999, 'future', now())"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), url, Options{})
	if !errors.Is(err, model.ErrSchemaTooNew) {
		t.Fatalf("open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// A database at the first schema, with a user, a session and an audit
// row written with raw SQL as that release wrote them, opened by this
// binary: every later migration applies and nothing is lost.
func TestUpgradeFromTheFirstSchema(t *testing.T) {
	url := pg.Database(t)
	ctx := context.Background()
	old, err := Open(ctx, url, Options{schemaUpTo: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := old.SchemaVersion(ctx); v != 1 {
		t.Fatalf("fixture at schema %d", v)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	user, family, token := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	for _, stmt := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO users VALUES ($1, 'veteran@example.com', 'hash', 'admin', $2, $2)`, []any{user, now}},
		{`INSERT INTO sessions (family_id, user_id, born, token_id, token_hash, last_used, expires_at, user_agent, ip)
			VALUES ($1, $2, $3, $4, 'v1-token', $3, $5, 'ua', '192.0.2.1')`, []any{family, user, now, token, now.Add(time.Hour)}},
		{`INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, parent_id, status, created_at, expires_at,
			family_created_at, user_agent, ip) VALUES ($1, 'v1-token', $2, $3, NULL, 'active', $4, $5, $4, 'ua', '192.0.2.1')`,
			[]any{token, family, user, now, now.Add(time.Hour)}},
		{`INSERT INTO audit_log VALUES ($1, $2, $3, 'admin.role_changed', NULL, NULL, NULL)`, []any{uuid.Must(uuid.NewV7()), now, user.String()}},
	} {
		if _, err := old.pool.Exec(ctx, stmt.query, stmt.args...); err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	old.Close()

	s := openStoreAt(t, url, Options{})
	if v, _ := s.SchemaVersion(ctx); v != LatestSchema() {
		t.Fatalf("upgraded to %d, want %d", v, LatestSchema())
	}
	if _, live, _ := s.SessionActive(ctx, family); !live {
		t.Fatal("session lost in the upgrade")
	}
	se, err := s.Rotate(ctx, model.Rotation{OldHash: "v1-token", NewHash: "v2-token", ExpiresAt: time.Now().Add(time.Hour),
		ShortExpiresAt: time.Now().Add(time.Minute)})
	if err != nil || se.Short || se.ID != family {
		t.Fatalf("refresh after upgrade (a session of before is a long one): %+v %v", se, err)
	}
	audits, n, err := s.ListAudit(ctx, model.AuditFilter{Limit: 10})
	if err != nil || n != 1 || audits[0].ActorEmail != "" {
		t.Fatalf("audit after upgrade: %+v (%d) %v", audits, n, err)
	}
	if _, err := s.AIStats(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatalf("tables of later migrations missing: %v", err)
	}
	if _, err := s.WorkspaceCounts(ctx); err != nil {
		t.Fatalf("workspace tables missing: %v", err)
	}
	if _, err := s.MonthSpend(ctx, user, time.Now()); err != nil {
		t.Fatalf("budget tables missing: %v", err)
	}
}

// Every way a session ends, on replica A, reaches replica B (which had the
// session's state cached) well within a second.
func TestEndingASessionReachesTheOtherReplica(t *testing.T) {
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	ctx := context.Background()
	mustUser(t, a, "root@example.com", model.RoleAdmin)
	cases := []struct {
		name string
		end  func(u model.User, family uuid.UUID, hash string) error
	}{
		{"logout", func(_ model.User, _ uuid.UUID, hash string) error { return a.RevokeByToken(ctx, hash) }},
		{"revocation", func(u model.User, family uuid.UUID, _ string) error { return a.RevokeSession(ctx, u.ID, family) }},
		{"sign out elsewhere", func(u model.User, _ uuid.UUID, _ string) error {
			return a.RevokeOtherSessions(ctx, u.ID, uuid.Must(uuid.NewV7()))
		}},
		{"password change", func(u model.User, _ uuid.UUID, _ string) error {
			h := "new-hash"
			_, err := a.UpdateUser(ctx, u.ID, model.UserChange{PasswordHash: &h, EndOtherSessions: true, KeepSession: uuid.Must(uuid.NewV7())})
			return err
		}},
		{"deletion", func(u model.User, _ uuid.UUID, _ string) error { return a.DeleteUser(ctx, u.ID, nil) }},
		{"reuse", func(_ model.User, _ uuid.UUID, hash string) error {
			if _, err := a.Rotate(ctx, model.Rotation{OldHash: hash, NewHash: hash + "-next", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
			_, err := b.Rotate(ctx, model.Rotation{OldHash: hash, NewHash: hash + "-again", ExpiresAt: time.Now().Add(time.Hour)})
			if !errors.Is(err, model.ErrTokenReused) {
				return fmt.Errorf("reuse: %v", err)
			}
			return nil
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := mustUser(t, a, fmt.Sprintf("user%d@example.com", i), model.RoleUser)
			hash := fmt.Sprintf("token-%d", i)
			family := signIn(t, a, u, hash)
			if owner, live, err := b.SessionActive(ctx, family); err != nil || !live || owner != u.ID {
				t.Fatalf("replica B before: %v %v %v", owner, live, err)
			}
			if _, err := b.UserByID(ctx, u.ID); err != nil { // cached on B now
				t.Fatal(err)
			}
			if err := tc.end(u, family, hash); err != nil {
				t.Fatal(err)
			}
			took := within(t, time.Second, "replica B sees the session ended", func() bool {
				_, live, err := b.SessionActive(ctx, family)
				return err == nil && !live
			})
			t.Logf("replica B saw it after %s", took)
		})
	}
}

// A role change on replica A applies to replica B's next read, well within
// a second, though B had the user cached.
func TestRoleChangeReachesTheOtherReplica(t *testing.T) {
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	ctx := context.Background()
	u := mustUser(t, a, "ann@example.com", model.RoleUser)
	if got, _ := b.UserByID(ctx, u.ID); got.Role != model.RoleUser {
		t.Fatalf("before: %+v", got)
	}
	if _, err := a.SetRole(ctx, u.ID, model.RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "replica B sees the new role", func() bool {
		got, err := b.UserByID(ctx, u.ID)
		return err == nil && got.Role == model.RoleAdmin
	})
}

// A change that announced nothing (a notification lost, or a row changed by
// hand) is seen once the cached entry's lifetime is over.
func TestACachedEntryOutlivesNoLostNotificationForLong(t *testing.T) {
	rs := replicas(t, 1)
	s := rs[0]
	ctx := context.Background()
	u := mustUser(t, s, "ann@example.com", model.RoleUser)
	family := signIn(t, s, u, "t")
	if _, err := s.UserByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, live, _ := s.SessionActive(ctx, family); !live {
		t.Fatal("session not live")
	}
	if _, err := s.pool.Exec(ctx, "UPDATE users SET role = 'admin' WHERE id = $1", u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE family_id = $1", family); err != nil {
		t.Fatal(err)
	}
	within(t, s.cache.ttl+200*time.Millisecond, "the silent role change", func() bool {
		got, _ := s.UserByID(ctx, u.ID)
		return got.Role == model.RoleAdmin
	})
	within(t, s.cache.ttl+200*time.Millisecond, "the silent session end", func() bool {
		_, live, _ := s.SessionActive(ctx, family)
		return !live
	})
}

// When the listening connection dies the caches go off at once, and come
// back (with invalidations flowing) once it reconnected.
func TestCachesOffWhileTheListenerReconnects(t *testing.T) {
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	ctx := context.Background()
	if _, err := a.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN `+notifyChannel+`' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	within(t, 2*listenCheckEvery, "the caches to go off", func() bool { return !a.cache.isLive() || !b.cache.isLive() })
	within(t, 2*listenCheckEvery+listenRetry, "the listeners to reconnect", func() bool { return a.cache.isLive() && b.cache.isLive() })
	u := mustUser(t, a, "ann@example.com", model.RoleUser)
	if _, err := b.UserByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetRole(ctx, u.ID, model.RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "an invalidation after the reconnect", func() bool {
		got, _ := b.UserByID(ctx, u.ID)
		return got.Role == model.RoleAdmin
	})
}

// 20 concurrent refreshes of one token spread over two replicas: exactly
// one succeeds without a grace; with one, exactly one of the tokens handed
// out stays usable and the session lives on.
func TestConcurrentRotationsAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	u := mustUser(t, rs[0], "carol@example.com", model.RoleUser)
	for _, grace := range []time.Duration{0, 10 * time.Second} {
		for round := range 3 {
			old := fmt.Sprintf("g%v-r%d", grace, round)
			family := signIn(t, rs[0], u, old)
			var ok atomic.Int32
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := rs[i%2].Rotate(ctx, model.Rotation{OldHash: old, NewHash: fmt.Sprintf("%s-n%d", old, i),
						ExpiresAt: time.Now().Add(time.Hour), RetryGrace: grace})
					switch {
					case err == nil:
						ok.Add(1)
					case !errors.Is(err, model.ErrTokenReused) && !errors.Is(err, model.ErrTokenInvalid):
						t.Errorf("rotation %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			_, live, _ := rs[1].SessionActive(ctx, family)
			if grace == 0 {
				if ok.Load() != 1 || live {
					t.Fatalf("no grace, round %d: %d successes, session live %v; want 1 and ended", round, ok.Load(), live)
				}
				continue
			}
			usable := 0
			for i := range 20 {
				if _, err := rs[i%2].Rotate(ctx, model.Rotation{OldHash: fmt.Sprintf("%s-n%d", old, i), NewHash: fmt.Sprintf("%s-m%d", old, i),
					ExpiresAt: time.Now().Add(time.Hour)}); err == nil {
					usable++
				}
			}
			if ok.Load() == 0 || !live || usable != 1 {
				t.Fatalf("grace, round %d: %d successes, live %v, %d usable; want ≥1, live, exactly 1", round, ok.Load(), live, usable)
			}
		}
	}
}

// Demotions and deletions of every admin at once, spread over two
// replicas, leave exactly one admin.
func TestLastAdminAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	for round := range 5 {
		var admins []model.User
		for i := range 6 {
			admins = append(admins, mustUser(t, rs[0], fmt.Sprintf("admin-%d-%d@example.com", round, i), model.RoleAdmin))
		}
		var wg sync.WaitGroup
		for i, adm := range admins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if i%2 == 0 {
					_, err = rs[i%2].SetRole(ctx, adm.ID, model.RoleUser, nil)
				} else {
					err = rs[i%2].DeleteUser(ctx, adm.ID, nil)
				}
				if err != nil && !errors.Is(err, model.ErrLastAdmin) {
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		wg.Wait()
		counts, err := rs[1].RoleCounts(ctx)
		if err != nil || counts[model.RoleAdmin] != 1 {
			t.Fatalf("round %d: %d admins left (%v), want exactly 1", round, counts[model.RoleAdmin], err)
		}
	}
}

// Failures seen by different replicas count toward one limit, and a lock
// one replica set holds on the other.
func TestThrottleSharedAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	rule := []model.ThrottleRule{{Key: "pair:ann@example.com|192.0.2.1", Limit: 6, Window: time.Hour, Lockout: time.Hour}}
	var locks atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			locked, err := rs[i%2].RecordFailures(ctx, rule)
			if err != nil {
				t.Error(err)
			}
			locks.Add(int32(len(locked)))
		}()
	}
	wg.Wait()
	if locks.Load() != 1 {
		t.Fatalf("%d locks reported, want 1", locks.Load())
	}
	for i, s := range rs {
		if got, _ := s.LockedUntil(ctx, []string{rule[0].Key}); len(got) != 1 {
			t.Fatalf("replica %d does not see the lock", i)
		}
	}
}

// One replica leads a job; when the connection holding the lock dies (as
// with a SIGKILLed leader) the leader steps down and another takes over.
func TestLeadershipMovesWhenTheLeaderDies(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	heldA, releaseA, err := rs[0].Lead(ctx, "poller")
	if err != nil {
		t.Fatal(err)
	}
	defer releaseA()
	type lead struct {
		held    context.Context
		release func()
		err     error
	}
	got := make(chan lead, 1)
	go func() {
		h, r, err := rs[1].Lead(ctx, "poller")
		got <- lead{h, r, err}
	}()
	select {
	case l := <-got:
		t.Fatalf("two leaders at once (%v)", l.err)
	case <-time.After(300 * time.Millisecond):
	}
	// Another job is free meanwhile.
	if h, r, err := rs[1].Lead(ctx, "purge"); err != nil || h.Err() != nil {
		t.Fatalf("another job: %v", err)
	} else {
		r()
	}
	if _, err := rs[1].pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid`,
		uint32(lockNamespace), uint32(lockKey("job:poller"))); err != nil { //nolint:gosec // the key's bits as the catalog shows them
		t.Fatal(err)
	}
	var l lead
	select {
	case l = <-got:
	case <-time.After(3 * time.Second):
		t.Fatal("the job did not move to the other replica")
	}
	if l.err != nil {
		t.Fatal(l.err)
	}
	defer l.release()
	select {
	case <-heldA.Done():
	case <-time.After(3 * leaderCheckEvery):
		t.Fatal("the old leader did not notice it lost the lock")
	}
	if l.held.Err() != nil {
		t.Fatal("the new leadership ended at once")
	}
}

// A usage record written twice (a retry after an ambiguous commit) counts
// once.
func TestUsageRecordsAreNotDoubledByRetries(t *testing.T) {
	s := replicas(t, 1)[0]
	ctx := context.Background()
	rec := model.UsageRecord{ID: uuid.Must(uuid.NewV7()), At: time.Now(), UserID: uuid.Must(uuid.NewV7()), Kind: model.KindChat,
		Model: "m", Status: model.UsageStatusOK}
	for range 2 {
		if err := s.InsertUsage(ctx, []model.UsageRecord{rec}); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := s.AIStats(ctx, time.Now().Add(-time.Hour))
	if err != nil || stats.Requests != 1 {
		t.Fatalf("%d requests counted (%v), want 1", stats.Requests, err)
	}
}

// Connection failures name the server, never the password.
func TestErrorsNeverShowThePassword(t *testing.T) {
	for _, url := range []string{"postgres://duckgate:s3cret-pw@127.0.0.1:1/duckgate?connect_timeout=2", "postgres://duckgate:s3cret-pw@[::1"} {
		_, err := Open(context.Background(), url, Options{})
		if err == nil {
			t.Fatalf("%s opened", url)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
}

func TestMetricsCollect(t *testing.T) {
	s := replicas(t, 1)[0]
	reg := prometheus.NewRegistry()
	if err := reg.Register(s.Metrics()); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]float64{}
	for _, f := range families {
		m := f.GetMetric()[0]
		names[f.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	if names["pgxpool_max_conns"] != 16 || names["duckgate_cache_listener_up"] != 1 {
		t.Fatalf("metrics %v", names)
	}
}

// Text with NUL bytes (which PostgreSQL cannot store) neither fails a write
// nor matches what it should not.
func TestNULBytesNeitherFailNorMatch(t *testing.T) {
	s := replicas(t, 1)[0]
	ctx := context.Background()
	if _, err := s.UserByEmail(ctx, "\x00@example.com"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("lookup: %v", err)
	}
	key := "pair:\x00@example.com|192.0.2.1"
	rule := []model.ThrottleRule{{Key: key, Limit: 1, Window: time.Hour, Lockout: time.Hour}}
	if locked, err := s.RecordFailures(ctx, rule); err != nil || len(locked) != 1 {
		t.Fatalf("failure: %v %v", locked, err)
	}
	if got, err := s.LockedUntil(ctx, []string{key}); err != nil || len(got) != 1 {
		t.Fatalf("lock: %v %v", got, err)
	}
	if err := s.LiftLockout(ctx, key, &model.Audit{Action: "x\x00", Detail: "d\x00"}); err != nil {
		t.Fatalf("lift: %v", err)
	}
	if err := s.InsertUsage(ctx, []model.UsageRecord{{At: time.Now(), Kind: model.KindChat, Model: "m\x00", Status: "ok"}}); err != nil {
		t.Fatalf("usage: %v", err)
	}
	if list, n, err := s.ListAudit(ctx, model.AuditFilter{Action: "x\x00", Limit: 5}); err != nil || n != 1 || list[0].Detail != "d\uFFFD" {
		t.Fatalf("audit: %+v %d %v", list, n, err)
	}
}
