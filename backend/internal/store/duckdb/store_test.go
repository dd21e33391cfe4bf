package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// openStoreAt opens the database at path (a new file when empty) with the
// clock now (the real one when nil), closed when the test ends.
func openStoreAt(t testing.TB, path string, now func() time.Time) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "test.duckdb")
	}
	opts := Options{Now: now}
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCreateUser(t testing.TB, s *Store, email, role string) model.User {
	t.Helper()
	u := model.NewUser(email, "hash", role, s.now())
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
	if err := s.CreateUser(ctx, model.NewUser("ann@example.com", "h", "user", s.now()), nil); !errors.Is(err, model.ErrEmailTaken) {
		t.Fatalf("duplicate email: got %v, want model.ErrEmailTaken", err)
	}
	s.Close()

	s = openStoreAt(t, path, nil)
	got, err := s.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Role != "user" || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("reopened user = %+v, want %+v", got, u)
	}
	if _, err := s.UserByID(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
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
	if !errors.Is(err, model.ErrSchemaTooNew) {
		t.Fatalf("got %v, want model.ErrSchemaTooNew", err)
	}
}

func TestWriteDroppedWhenCallerLeftBeforeItBegan(t *testing.T) {
	s := openStoreAt(t, "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.CreateUser(ctx, model.NewUser("gone@example.com", "h", "user", s.now()), nil)
	if err == nil {
		t.Fatal("write of a cancelled caller acknowledged")
	}
	if _, err := s.UserByEmail(context.Background(), "gone@example.com"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("cancelled write committed: %v", err)
	}
}

func TestAFailedBatchCommitsNothingAndSparesItsNeighbours(t *testing.T) {
	s := openStoreAt(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "batch@example.com", "user")
	family, err := s.CreateSession(ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: "keep", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)

	var wg sync.WaitGroup
	var faultErr, rotateErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, rotateErr = s.Rotate(ctx, model.Rotation{OldHash: "keep", NewHash: "kept", ExpiresAt: time.Now().Add(time.Hour)})
	}()
	go func() {
		defer wg.Done()
		// Appends a row, then fails: the batch rolls back, taking the
		// rotation's row with it, and each write is retried alone.
		faultErr = s.write(ctx, func(t *Tx) error {
			id := uuid.Must(uuid.NewV7())
			row := tokenValues(id, "ghost", id, u.ID, uuid.Nil, time.Now(), time.Now().Add(time.Hour), time.Now(), "", "", false)
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
	if _, err := s.Rotate(ctx, model.Rotation{OldHash: "kept", NewHash: "next", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("successor after the retried batch: %v", err)
	}
	if _, ok := active(s, family); !ok {
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
	s := openStoreAt(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "race@example.com", "user")
	family, _ := s.CreateSession(ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: "t1", ExpiresAt: time.Now().Add(time.Hour)})
	errs := inOneBatch(t, s,
		func() error { return s.RevokeByToken(ctx, "t1") },
		func() error {
			_, err := s.Rotate(ctx, model.Rotation{OldHash: "t1", NewHash: "t2", ExpiresAt: time.Now().Add(time.Hour)})
			return err
		})
	if errs[0] != nil || !errors.Is(errs[1], model.ErrTokenInvalid) {
		t.Fatalf("logout: %v, rotation: %v; want nil and model.ErrTokenInvalid", errs[0], errs[1])
	}
	if _, ok := active(s, family); ok {
		t.Fatal("the logged-out session came back to life")
	}
	if _, err := s.Rotate(ctx, model.Rotation{OldHash: "t2", NewHash: "t3", ExpiresAt: time.Now().Add(time.Hour)}); err == nil {
		t.Fatal("a successor was issued for a logged-out session")
	}
}

func TestAPasswordChangeEndsASignInOfTheSameBatch(t *testing.T) {
	s := openStoreAt(t, "", nil)
	ctx := context.Background()
	u := mustCreateUser(t, s, "pw-race@example.com", "user")
	keep, _ := s.CreateSession(ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: "k1", ExpiresAt: time.Now().Add(time.Hour)})
	var other uuid.UUID
	hash := "new-hash"
	errs := inOneBatch(t, s,
		func() (err error) {
			other, err = s.CreateSession(ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: "o1", ExpiresAt: time.Now().Add(time.Hour)})
			return err
		},
		func() error {
			_, err := s.UpdateUser(ctx, u.ID, model.UserChange{PasswordHash: &hash, EndOtherSessions: true, KeepSession: keep})
			return err
		})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if _, ok := active(s, other); ok {
		t.Fatal("a sign-in committed before the password change survived it")
	}
	if _, ok := active(s, keep); !ok {
		t.Fatal("the session that changed the password ended")
	}
}

// active reports whether session family is live, and whose it is.
func active(s *Store, family uuid.UUID) (uuid.UUID, bool) {
	owner, live, _ := s.SessionActive(context.Background(), family)
	return owner, live
}
