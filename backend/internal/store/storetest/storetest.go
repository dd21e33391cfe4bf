// Package storetest is the contract every storage engine keeps: each rule
// the store enforces (one account per email, never zero admins, refresh
// rotation and reuse detection, session revocation, what a deleted user
// takes along, paging and search, video job states, usage records) is a
// case here, and each engine runs all of them against a real database:
//
//	func TestContract(t *testing.T) { storetest.Run(t, openForContract) }
//
// The cases use only the methods of Store, so an engine that passes them
// can stand in for another without a service noticing.
package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// Store is the storage contract: every method a service needs.
type Store interface {
	CreateUser(ctx context.Context, u model.User, audit *model.Audit) error
	EnsureAdmin(ctx context.Context, u model.User) (bool, error)
	UserByID(ctx context.Context, id uuid.UUID) (model.User, error)
	UserByEmail(ctx context.Context, email string) (model.User, error)
	UpdateUser(ctx context.Context, id uuid.UUID, change model.UserChange, audits ...*model.Audit) (model.User, error)
	SetRole(ctx context.Context, id uuid.UUID, role string, audit *model.Audit) (model.User, error)
	DeleteUser(ctx context.Context, id uuid.UUID, audit *model.Audit) error
	ListUsers(ctx context.Context, query string, limit, offset int) (model.UserPage, error)
	RoleCounts(ctx context.Context) (map[string]int, error)

	CreateSession(ctx context.Context, ns model.NewSession) (uuid.UUID, error)
	Rotate(ctx context.Context, r model.Rotation) (model.Session, error)
	RevokeByToken(ctx context.Context, hash string) error
	RevokeSession(ctx context.Context, user, family uuid.UUID) error
	RevokeOtherSessions(ctx context.Context, user, keep uuid.UUID) error
	SessionActive(ctx context.Context, family uuid.UUID) (owner uuid.UUID, live bool, err error)
	Sessions(ctx context.Context, user uuid.UUID) ([]model.Session, error)
	TokenCounts(ctx context.Context) (map[string]int, error)
	PurgeTokens(ctx context.Context, audit *model.Audit) (int, error)

	AppendAudit(ctx context.Context, a *model.Audit) error
	ListAudit(ctx context.Context, f model.AuditFilter) ([]model.Audit, int, error)

	InsertUsage(ctx context.Context, records []model.UsageRecord) error
	AIStats(ctx context.Context, since time.Time) (model.AIStats, error)
	UsageReport(ctx context.Context, since time.Time, groupBy string) ([]model.UsageRow, error)

	CreateVideoJob(ctx context.Context, j *model.VideoJob) error
	VideoJob(ctx context.Context, id uuid.UUID) (model.VideoJob, error)
	VideoJobs(ctx context.Context, userID uuid.UUID, limit, offset int) ([]model.VideoJob, int, error)
	UnfinishedVideoJobs(ctx context.Context, statuses ...string) ([]model.VideoJob, error)
	UpdateVideoJob(ctx context.Context, j model.VideoJob) error

	LockedUntil(ctx context.Context, keys []string) (map[string]time.Time, error)
	RecordFailures(ctx context.Context, rules []model.ThrottleRule) (map[string]time.Time, error)
	ClearFailures(ctx context.Context, keys []string) error
	Lockouts(ctx context.Context) ([]model.Lockout, error)
	LiftLockout(ctx context.Context, key string, audit *model.Audit) error

	CreateConversation(ctx context.Context, c model.Conversation) error
	Conversation(ctx context.Context, user, id uuid.UUID) (model.Conversation, []model.Message, error)
	ListConversations(ctx context.Context, f model.ConversationFilter) (model.ConversationPage, error)
	UpdateConversation(ctx context.Context, user, id uuid.UUID, change model.ConversationChange) (model.Conversation, error)
	DeleteConversation(ctx context.Context, user, id uuid.UUID) error
	ReplaceMessages(ctx context.Context, user, id uuid.UUID, count, from int, msgs []model.Message, title string) error
	WorkspaceCounts(ctx context.Context) (model.WorkspaceCounts, error)
	SaveImages(ctx context.Context, imgs []model.StoredImage) error
	Images(ctx context.Context, user uuid.UUID, limit, offset int) ([]model.StoredImage, int, error)
	Image(ctx context.Context, id uuid.UUID) (model.StoredImage, error)
	DeleteImage(ctx context.Context, user, id uuid.UUID) error
	ImageBytes(ctx context.Context, user uuid.UUID) (int64, error)

	CreateAccountToken(ctx context.Context, tok model.AccountToken, audit *model.Audit) error
	RedeemAccountToken(ctx context.Context, hash, purpose, passwordHash string, audit *model.Audit) (model.User, error)
	CreateAPIKey(ctx context.Context, k model.APIKey, audit *model.Audit) error
	APIKeyByHash(ctx context.Context, hash string) (model.APIKey, error)
	APIKeys(ctx context.Context, f model.APIKeyFilter) ([]model.APIKey, int, error)
	RevokeAPIKey(ctx context.Context, id, owner uuid.UUID, audit *model.Audit) error
	RecordKeyUse(ctx context.Context, uses []model.KeyUse) error

	UserBudget(ctx context.Context, user uuid.UUID) (*float64, error)
	SetUserBudget(ctx context.Context, user uuid.UUID, monthlyUSD *float64, audit *model.Audit) error
	ReserveSpend(ctx context.Context, r model.Reservation, limitUSD float64) (model.Spend, error)
	ReleaseSpend(ctx context.Context, user, id uuid.UUID) error
	MonthSpend(ctx context.Context, user uuid.UUID, month time.Time) (model.Spend, error)
	UserUsage(ctx context.Context, user uuid.UUID, from, to time.Time) (model.UserUsage, error)

	Ping(ctx context.Context) (time.Duration, error)
}

// Factory opens a new, empty store that reads the time from now, and closes
// it when the test ends.
type Factory func(t testing.TB, now func() time.Time) Store

// Run runs every contract case against stores made by open.
func Run(t *testing.T, open Factory) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := NewClock()
			c.run(t, &env{t: t, s: open(t, clk.Now), clk: clk, ctx: context.Background()})
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, e *env)
}

// cases is filled by the files of this package, one file per area.
var cases []testCase

func register(name string, run func(t *testing.T, e *env)) {
	cases = append(cases, testCase{name: name, run: run})
}

// Clock is an injectable, advanceable time source, safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// NewClock starts at a fixed instant.
func NewClock() *Clock {
	c := &Clock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

// Now reads the clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is one case's store, clock and helpers.
type env struct {
	t   *testing.T
	s   Store
	clk *Clock
	ctx context.Context
}

// user creates an account with this email and role.
func (e *env) user(email, role string) model.User {
	e.t.Helper()
	u := model.NewUser(email, "hash-"+email, role, e.clk.Now())
	if err := e.s.CreateUser(e.ctx, u, nil); err != nil {
		e.t.Fatalf("create %s: %v", email, err)
	}
	return u
}

// signIn starts a session for u whose first refresh token hashes to hash.
func (e *env) signIn(u model.User, hash string) uuid.UUID {
	e.t.Helper()
	family, err := e.s.CreateSession(e.ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: hash,
		ExpiresAt: e.clk.Now().Add(time.Hour), UserAgent: "test-agent", IP: "192.0.2.1"})
	if err != nil {
		e.t.Fatalf("sign in: %v", err)
	}
	return family
}

// rotate presents the token hashed oldHash and asks for newHash in its place.
func (e *env) rotate(oldHash, newHash string) (model.Session, error) {
	return e.s.Rotate(e.ctx, model.Rotation{OldHash: oldHash, NewHash: newHash,
		ExpiresAt: e.clk.Now().Add(time.Hour), UserAgent: "test-agent", IP: "192.0.2.1"})
}

// live reports whether the session is live, failing the test on an error.
func (e *env) live(family uuid.UUID) bool {
	e.t.Helper()
	_, live, err := e.s.SessionActive(e.ctx, family)
	if err != nil {
		e.t.Fatalf("session active: %v", err)
	}
	return live
}

// concurrently runs fn n times at once and waits for all of them.
func concurrently(n int, fn func(i int)) {
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
