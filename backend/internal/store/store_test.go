package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// clock is an injectable, advanceable time source.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

func openTestStore(t testing.TB, path string, clk *clock) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "test.duckdb")
	}
	opts := Options{}
	if clk != nil {
		opts.Now = clk.now
	}
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCreateUser(t testing.TB, s *Store, email, role string) User {
	t.Helper()
	u := s.NewUser(email, "hash", role)
	if err := s.CreateUser(context.Background(), u, nil); err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return u
}

func TestUsersRoundTripAndSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.duckdb")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := mustCreateUser(t, s, "ann@example.com", "user")
	if err := s.CreateUser(ctx, s.NewUser("ann@example.com", "h", "user"), nil); !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("duplicate email: got %v, want ErrEmailTaken", err)
	}
	s.Close()

	s = openTestStore(t, path, nil)
	got, err := s.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Role != "user" || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("reopened user = %+v, want %+v", got, u)
	}
	if _, err := s.UserByID(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestConcurrentRegistrationOfOneEmailCreatesOneUser(t *testing.T) {
	s := openTestStore(t, "", nil)
	var wg sync.WaitGroup
	var created, taken atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.CreateUser(context.Background(), s.NewUser("race@example.com", "h", "user"), nil)
			switch {
			case err == nil:
				created.Add(1)
			case errors.Is(err, ErrEmailTaken):
				taken.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || taken.Load() != 19 {
		t.Fatalf("created %d, taken %d; want 1 and 19", created.Load(), taken.Load())
	}
}

func TestRotationIsSingleUseAndReuseRevokesTheFamily(t *testing.T) {
	clk := newClock()
	s := openTestStore(t, "", clk)
	ctx := context.Background()
	u := mustCreateUser(t, s, "bob@example.com", "user")
	family, err := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "h1", ExpiresAt: clk.now().Add(time.Hour), UserAgent: "ua", IP: "1.2.3.4"})
	if err != nil {
		t.Fatal(err)
	}
	if owner, ok := s.SessionActive(family); !ok || owner != u.ID {
		t.Fatal("new session not active")
	}
	se, err := s.Rotate(ctx, Rotation{OldHash: "h1", NewHash: "h2", ExpiresAt: clk.now().Add(time.Hour)})
	if err != nil || se.ID != family || se.UserID != u.ID {
		t.Fatalf("rotate: %+v %v", se, err)
	}
	if _, err := s.Rotate(ctx, Rotation{OldHash: "h1", NewHash: "h3", ExpiresAt: clk.now().Add(time.Hour)}); !errors.Is(err, ErrTokenReused) {
		t.Fatalf("reuse: got %v, want ErrTokenReused", err)
	}
	if _, ok := s.SessionActive(family); ok {
		t.Fatal("family still active after reuse")
	}
	if _, err := s.Rotate(ctx, Rotation{OldHash: "h2", NewHash: "h4", ExpiresAt: clk.now().Add(time.Hour)}); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("successor after reuse: got %v, want ErrTokenInvalid", err)
	}
	audits, _, err := s.ListAudit(ctx, AuditFilter{Limit: 10})
	if err != nil || len(audits) != 1 || audits[0].TargetID != family.String() {
		t.Fatalf("audit of reuse: %+v %v", audits, err)
	}
}

func TestConcurrentRefreshesWithOneTokenNeverBothSucceed(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "carol@example.com", "user")
	for round := 0; round < 10; round++ {
		old := fmt.Sprintf("r%d", round)
		if _, err := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: old, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var ok atomic.Int32
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Rotate(ctx, Rotation{OldHash: old, NewHash: fmt.Sprintf("%s-%d", old, i), ExpiresAt: time.Now().Add(time.Hour)})
				if err == nil {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("round %d: %d refreshes succeeded, want exactly 1", round, ok.Load())
		}
	}
}

func TestExpiredRefreshTokenIsRejected(t *testing.T) {
	clk := newClock()
	s := openTestStore(t, "", clk)
	ctx := context.Background()
	u := mustCreateUser(t, s, "dan@example.com", "user")
	family, _ := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "e1", ExpiresAt: clk.now().Add(time.Minute)})
	clk.advance(2 * time.Minute)
	if _, err := s.Rotate(ctx, Rotation{OldHash: "e1", NewHash: "e2", ExpiresAt: clk.now().Add(time.Hour)}); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("expired: %v", err)
	}
	if _, ok := s.SessionActive(family); ok {
		t.Fatal("expired session still active")
	}
	counts, err := s.TokenCounts(ctx)
	if err != nil || counts["expired"] != 1 {
		t.Fatalf("counts %v %v", counts, err)
	}
	n, err := s.PurgeTokens(ctx, &Audit{Action: "admin.tokens_purged"})
	if err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
}

func TestLastAdminCannotBeDemotedOrDeleted(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	a := mustCreateUser(t, s, "root@example.com", "admin")
	if _, err := s.SetRole(ctx, a.ID, "user", nil); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demote last admin: %v", err)
	}
	if err := s.DeleteUser(ctx, a.ID, nil); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("delete last admin: %v", err)
	}
	b := mustCreateUser(t, s, "second@example.com", "user")
	if u, err := s.SetRole(ctx, b.ID, "admin", &Audit{Action: "admin.role_changed"}); err != nil || u.Role != "admin" {
		t.Fatalf("promote: %+v %v", u, err)
	}
	if got, _ := s.UserByID(ctx, b.ID); got.Role != "admin" {
		t.Fatalf("cache not updated: %+v", got)
	}
	if _, err := s.SetRole(ctx, a.ID, "user", nil); err != nil {
		t.Fatalf("demote with another admin: %v", err)
	}
}

func TestDeleteUserEndsSessionsAtOnce(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "eve@example.com", "user")
	_, _ = s.UserByID(ctx, u.ID) // cached
	family, _ := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "d1", ExpiresAt: time.Now().Add(time.Hour)})
	if err := s.DeleteUser(ctx, u.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.SessionActive(family); ok {
		t.Error("session of deleted user still active")
	}
	if _, err := s.UserByID(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted user still readable: %v", err)
	}
}

func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "fay@example.com", "user")
	keep, _ := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "k", ExpiresAt: time.Now().Add(time.Hour)})
	other, _ := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "o", ExpiresAt: time.Now().Add(time.Hour)})
	hash := "new-hash"
	if _, err := s.UpdateUser(ctx, u.ID, UserChange{PasswordHash: &hash, EndOtherSessions: true, KeepSession: keep}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.SessionActive(keep); !ok {
		t.Error("current session revoked")
	}
	if _, ok := s.SessionActive(other); ok {
		t.Error("other session survived the password change")
	}
	list, err := s.Sessions(ctx, u.ID)
	if err != nil || len(list) != 1 || list[0].ID != keep {
		t.Fatalf("sessions: %+v %v", list, err)
	}
}

func TestNewerSchemaStopsStartUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.duckdb")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("INSERT INTO schema_migrations VALUES (9999, 'future', now())"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(context.Background(), path, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("got %v, want ErrSchemaTooNew", err)
	}
}

func TestWriteDroppedWhenCallerLeftBeforeItBegan(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.CreateUser(ctx, s.NewUser("gone@example.com", "h", "user"), nil)
	if err == nil {
		t.Fatal("write of a cancelled caller acknowledged")
	}
	if _, err := s.UserByEmail(context.Background(), "gone@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancelled write committed: %v", err)
	}
}

func TestAFailedBatchCommitsNothingAndSparesItsNeighbours(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "batch@example.com", "user")
	family, err := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "keep", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)

	var wg sync.WaitGroup
	var faultErr, rotateErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, rotateErr = s.Rotate(ctx, Rotation{OldHash: "keep", NewHash: "kept", ExpiresAt: time.Now().Add(time.Hour)})
	}()
	go func() {
		defer wg.Done()
		// Appends a row, then fails: the batch rolls back, taking the
		// rotation's row with it, and each write is retried alone.
		faultErr = s.write(ctx, func(t *Tx) error {
			id := uuid.Must(uuid.NewV7())
			row := tokenValues(id, "ghost", id, u.ID, uuid.Nil, time.Now(), time.Now().Add(time.Hour), time.Now(), "", "")
			if err := t.appendRows("refresh_tokens", tokenColumns, [][]driver.Value{row}); err != nil {
				return err
			}
			return errors.New("disk on fire")
		})
	}()
	release(2)
	wg.Wait()

	if faultErr == nil || rotateErr != nil {
		t.Fatalf("fault: %v, rotation: %v", faultErr, rotateErr)
	}
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM refresh_tokens WHERE token_hash = 'ghost'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rolled-back row present: %d %v", n, err)
	}
	// The rotation took effect exactly once: the successor works, the old
	// token is now a rotated one.
	if _, err := s.Rotate(ctx, Rotation{OldHash: "kept", NewHash: "next", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("successor after the retried batch: %v", err)
	}
	if _, ok := s.SessionActive(family); !ok {
		t.Fatal("session ended by a neighbour's fault")
	}
	if commits, writes := s.WriterStats(); writes < commits {
		t.Fatalf("writer stats %d commits for %d writes", commits, writes)
	}
}

// holdWriter blocks the writer until the returned release(n) is called,
// which first waits until n writes are queued: they then share one batch.
func holdWriter(t *testing.T, s *Store) (release func(n int)) {
	t.Helper()
	held, free := make(chan struct{}), make(chan struct{})
	go s.w.exclusive(context.Background(), func(*sql.Conn) error { close(held); <-free; return nil })
	<-held
	return func(n int) {
		for len(s.w.queue) < n {
			time.Sleep(time.Millisecond)
		}
		close(free)
	}
}

// inOneBatch runs the writes concurrently but in one batch, in the order
// given, and returns their errors.
func inOneBatch(t *testing.T, s *Store, writes ...func() error) []error {
	t.Helper()
	release := holdWriter(t, s)
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = w() }()
		for len(s.w.queue) < i+1 { // keep the queue in the order given
			time.Sleep(time.Millisecond)
		}
	}
	release(len(writes))
	wg.Wait()
	return errs
}

func TestARotationAfterALogoutInTheSameBatchFails(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "race@example.com", "user")
	family, _ := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "t1", ExpiresAt: time.Now().Add(time.Hour)})
	errs := inOneBatch(t, s,
		func() error { return s.RevokeByToken(ctx, "t1") },
		func() error {
			_, err := s.Rotate(ctx, Rotation{OldHash: "t1", NewHash: "t2", ExpiresAt: time.Now().Add(time.Hour)})
			return err
		})
	if errs[0] != nil || !errors.Is(errs[1], ErrTokenInvalid) {
		t.Fatalf("logout: %v, rotation: %v; want nil and ErrTokenInvalid", errs[0], errs[1])
	}
	if _, ok := s.SessionActive(family); ok {
		t.Fatal("the logged-out session came back to life")
	}
	if _, err := s.Rotate(ctx, Rotation{OldHash: "t2", NewHash: "t3", ExpiresAt: time.Now().Add(time.Hour)}); err == nil {
		t.Fatal("a successor was issued for a logged-out session")
	}
}

func TestAPasswordChangeEndsASignInOfTheSameBatch(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "pw-race@example.com", "user")
	keep, _ := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "k1", ExpiresAt: time.Now().Add(time.Hour)})
	var other uuid.UUID
	hash := "new-hash"
	errs := inOneBatch(t, s,
		func() (err error) {
			other, err = s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "o1", ExpiresAt: time.Now().Add(time.Hour)})
			return err
		},
		func() error {
			_, err := s.UpdateUser(ctx, u.ID, UserChange{PasswordHash: &hash, EndOtherSessions: true, KeepSession: keep})
			return err
		})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if _, ok := s.SessionActive(other); ok {
		t.Fatal("a sign-in committed before the password change survived it")
	}
	if _, ok := s.SessionActive(keep); !ok {
		t.Fatal("the session that changed the password ended")
	}
}

func TestARehashKeepsEverySession(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "rehash@example.com", "user")
	family, _ := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "r1", ExpiresAt: time.Now().Add(time.Hour)})
	stronger := "stronger-hash"
	if _, err := s.UpdateUser(ctx, u.ID, UserChange{PasswordHash: &stronger}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.SessionActive(family); !ok {
		t.Fatal("upgrading a hash signed the user out")
	}
}

// TestAFailedRotationLeavesTheSessionUsable makes a rotation's own
// transaction fail (its successor's hash collides with an existing token,
// which the unique index refuses) and checks that the presented token still
// works afterwards: nothing of the failed attempt was kept, in the table or
// in memory. Keycloak once marked the token used before such a failure.
func TestAFailedRotationLeavesTheSessionUsable(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "fail@example.com", "user")
	family, _ := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "mine", ExpiresAt: time.Now().Add(time.Hour)})
	if _, err := s.CreateSession(ctx, NewSession{UserID: u.ID, TokenHash: "taken", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Rotate(ctx, Rotation{OldHash: "mine", NewHash: "taken", ExpiresAt: time.Now().Add(time.Hour)})
	if err == nil || errors.Is(err, ErrTokenInvalid) || errors.Is(err, ErrTokenReused) {
		t.Fatalf("colliding rotation: got %v, want a fault", err)
	}
	if _, ok := s.SessionActive(family); !ok {
		t.Fatal("the session ended with the failed rotation")
	}
	if _, err := s.Rotate(ctx, Rotation{OldHash: "mine", NewHash: "fresh", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("the token of a failed rotation no longer works: %v", err)
	}
}
