package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/store/duckdb"
	"github.com/duckgate/duckgate/backend/internal/store/postgres"
	"github.com/duckgate/duckgate/backend/internal/store/storetest"
	"github.com/duckgate/duckgate/backend/internal/store/transfer"
	"github.com/duckgate/duckgate/shared/pgtest"
)

var pg pgtest.Lazy

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// engine is a store that can be exported and imported.
type engine interface {
	storetest.Store
	Export(ctx context.Context, w *transfer.Writer) error
	Import(ctx context.Context, r *transfer.Reader) error
	SchemaVersion(ctx context.Context) (int, error)
	Engine() string
	Close() error
}

func openDuckDB(t *testing.T, now func() time.Time) engine {
	t.Helper()
	s, err := duckdb.Open(context.Background(), filepath.Join(t.TempDir(), "app.duckdb"), duckdb.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T, now func() time.Time) engine {
	t.Helper()
	s, err := postgres.Open(context.Background(), pg.Database(t), postgres.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// export writes src into a new directory and returns it, with the row
// count of each table.
func export(t *testing.T, src engine, at time.Time) (string, map[string]int) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "export")
	w, err := transfer.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Export(ctx, w); err != nil {
		w.Abort()
		t.Fatal(err)
	}
	v, _ := src.SchemaVersion(ctx)
	m, err := w.Finish(src.Engine(), v, at)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for _, f := range m.Tables {
		rows[f.Table] = f.Rows
	}
	return dir, rows
}

func importInto(t *testing.T, dst engine, dir string) {
	t.Helper()
	r, err := transfer.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Import(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// fixture is what populate made: sessions in each state and their tokens,
// a conversation, kept images, API keys and account links.
type fixture struct {
	ann                      model.User
	live, revoked, expired   uuid.UUID
	short                    uuid.UUID
	current, rotated, logout string
	conversation             uuid.UUID
	images                   []uuid.UUID
	key, revokedKey          model.APIKey
	resetLink, usedLink      string
}

// populate fills s through the store API with a bit of everything.
func populate(t *testing.T, s engine, clk *storetest.Clock) fixture {
	t.Helper()
	ctx := context.Background()
	mk := func(email, role string) model.User {
		u := model.NewUser(email, "argon2id-hash-of-"+email, role, clk.Now())
		if err := s.CreateUser(ctx, u, &model.Audit{ActorID: "operator", Action: "user.created", TargetID: u.ID.String()}); err != nil {
			t.Fatal(err)
		}
		return u
	}
	root := mk("root@example.com", model.RoleAdmin)
	f := fixture{ann: mk("ann@example.com", model.RoleUser), current: "h2", rotated: "h1", logout: "g1", usedLink: "invite-link"}
	// An invitation already used (before any session: using it ends them).
	link(t, s, clk, f.ann, f.usedLink, model.TokenInvite)
	var err error
	if f.ann, err = s.RedeemAccountToken(ctx, f.usedLink, model.TokenInvite, "argon2id-hash-set-by-invite", nil); err != nil {
		t.Fatal(err)
	}
	start := func(hash string, ttl time.Duration) uuid.UUID {
		id, err := s.CreateSession(ctx, model.NewSession{UserID: f.ann.ID, UserUpdatedAt: f.ann.UpdatedAt, TokenHash: hash,
			ExpiresAt: clk.Now().Add(ttl), UserAgent: "browser", IP: "192.0.2.7"})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	f.live = start("h1", time.Hour)
	clk.Advance(time.Second)
	if _, err := s.Rotate(ctx, model.Rotation{OldHash: "h1", NewHash: "h2", ExpiresAt: clk.Now().Add(time.Hour), UserAgent: "phone", IP: "198.51.100.1"}); err != nil {
		t.Fatal(err)
	}
	f.revoked = start("g1", time.Hour)
	if err := s.RevokeByToken(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	f.expired = start("e1", time.Minute)
	cost := 0.25
	if err := s.InsertUsage(ctx, []model.UsageRecord{
		{At: clk.Now(), UserID: f.ann.ID, Kind: model.KindChat, Model: "m/a", Status: model.UsageStatusOK, LatencyMS: 12.5, PromptTokens: 3, CompletionTokens: 4, Cost: &cost, GenerationID: "gen-1"},
		{At: clk.Now(), UserID: f.ann.ID, Kind: model.KindVideo, Model: "m/v", Status: "502", LatencyMS: 3, ErrorKind: "upstream"},
	}); err != nil {
		t.Fatal(err)
	}
	job := &model.VideoJob{UserID: f.ann.ID, UpstreamID: "up-1", PollingURL: "/api/v1/videos/up-1", Status: "pending", Model: "m/v",
		Prompt: "a duck", Params: `{"duration":8}`, CreatedAt: clk.Now(), UpdatedAt: clk.Now()}
	if err := s.CreateVideoJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	rules := []model.ThrottleRule{{Key: model.ThrottleKey(model.ThrottlePair, "ann@example.com", "203.0.113.9"), Limit: 2, Window: time.Hour, Lockout: time.Hour}}
	for range 2 {
		if _, err := s.RecordFailures(ctx, rules); err != nil {
			t.Fatal(err)
		}
	}
	populateMain(t, s, clk, root, &f)
	clk.Advance(2 * time.Minute) // the one-minute session expires
	return f
}

// populateMain adds what came after the first export format: the
// workspace, integrators' keys and budgets, account links, audit entries
// naming people (one of them deleted since) and a short session.
func populateMain(t *testing.T, s engine, clk *storetest.Clock, root model.User, f *fixture) {
	t.Helper()
	ctx := context.Background()
	clk.Advance(time.Second) // sessions list by last use: no ties
	short, err := s.CreateSession(ctx, model.NewSession{UserID: f.ann.ID, UserUpdatedAt: f.ann.UpdatedAt, TokenHash: "s1",
		ExpiresAt: clk.Now().Add(12 * time.Hour), UserAgent: "kiosk", IP: "192.0.2.8", Short: true,
		Audit: &model.Audit{ActorID: f.ann.ID.String(), Action: "auth.login_succeeded", TargetID: f.ann.ID.String()}})
	if err != nil {
		t.Fatal(err)
	}
	f.short = short
	c := model.NewConversation(f.ann.ID, clk.Now())
	c.Title, c.SystemPrompt, c.Model = "ducks", "be brief", "m/a"
	if err := s.CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	f.conversation = c.ID
	if err := s.ReplaceMessages(ctx, f.ann.ID, c.ID, 0, 0, []model.Message{{Role: "user", Content: "why \"quack\"?\n"},
		{Role: "assistant", Content: "because", Model: "m/a", CutShort: true}}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateConversation(ctx, f.ann.ID, c.ID, model.ConversationChange{Pinned: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	for i, content := range [][]byte{{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff}, bytes.Repeat([]byte{0, 0xfe}, 5000)} {
		img := model.StoredImage{ID: uuid.Must(uuid.NewV7()), UserID: f.ann.ID, Prompt: fmt.Sprintf("duck %d", i), Model: "m/img",
			MediaType: "image/png", Bytes: int64(len(content)), SHA256: fmt.Sprintf("sha-%d", i), Content: content, CreatedAt: clk.Now()}
		if err := s.SaveImages(ctx, []model.StoredImage{img}); err != nil {
			t.Fatal(err)
		}
		f.images = append(f.images, img.ID)
		clk.Advance(time.Second)
	}
	expires := clk.Now().Add(30 * 24 * time.Hour)
	f.key = model.APIKey{ID: uuid.Must(uuid.NewV7()), UserID: f.ann.ID, Name: "script", Prefix: "dg_abcdefgh", Hash: "key-hash-1",
		Scopes: []string{model.ScopeAI, model.ScopeRead}, RequestsPerMinute: 7, CreatedAt: clk.Now(), ExpiresAt: &expires}
	f.revokedKey = model.APIKey{ID: uuid.Must(uuid.NewV7()), UserID: f.ann.ID, Name: "old", Prefix: "dg_old", Hash: "key-hash-2",
		Scopes: []string{model.ScopeRead}, CreatedAt: clk.Now()}
	for _, k := range []model.APIKey{f.key, f.revokedKey} {
		if err := s.CreateAPIKey(ctx, k, &model.Audit{ActorID: f.ann.ID.String(), Action: "api_key.created", TargetID: k.ID.String()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordKeyUse(ctx, []model.KeyUse{{KeyID: f.key.ID, At: clk.Now(), IP: "198.51.100.7"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, f.revokedKey.ID, f.ann.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserBudget(ctx, f.ann.ID, ptr(12.5), &model.Audit{ActorID: root.ID.String(), Action: "admin.budget_set",
		TargetID: f.ann.ID.String()}); err != nil {
		t.Fatal(err)
	}
	f.resetLink = "reset-link"
	link(t, s, clk, f.ann, f.resetLink, model.TokenReset)
	// Someone who is gone: their history still names them.
	gone := model.NewUser("gone@example.com", "h", model.RoleUser, clk.Now())
	if err := s.CreateUser(ctx, gone, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, gone.ID, &model.Audit{ActorID: root.ID.String(), Action: "admin.user_deleted", TargetID: gone.ID.String()}); err != nil {
		t.Fatal(err)
	}
	// A call in flight: its reservation is not moved (see package transfer).
	if _, err := s.ReserveSpend(ctx, model.Reservation{ID: uuid.Must(uuid.NewV7()), UserID: f.ann.ID, Amount: 0.01, Month: clk.Now(),
		ExpiresAt: clk.Now().Add(time.Hour)}, 100); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// link makes a one-time account link for u.
func link(t *testing.T, s engine, clk *storetest.Clock, u model.User, hash, purpose string) {
	t.Helper()
	if err := s.CreateAccountToken(context.Background(), model.AccountToken{ID: uuid.Must(uuid.NewV7()), UserID: u.ID, Purpose: purpose,
		TokenHash: hash, CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(24 * time.Hour)}, nil); err != nil {
		t.Fatal(err)
	}
}

// snapshot is everything of a store a comparison looks at.
type snapshot struct {
	Users         []model.User
	Tokens        map[string]int
	Sessions      []model.Session
	Audit         []model.Audit
	Usage         []model.UsageRow
	Videos        []model.VideoJob
	Lockouts      []model.Lockout
	Conversations model.ConversationPage
	Conversation  model.Conversation
	Messages      []model.Message
	Images        []model.StoredImage // with their bytes
	Keys          []model.APIKey
	KeyByHash     model.APIKey
	Budget        *float64
	Spent         float64
	Workspace     model.WorkspaceCounts
}

func take(t *testing.T, s engine, f fixture, clk *storetest.Clock) snapshot {
	t.Helper()
	ctx := context.Background()
	var sn snapshot
	page, err := s.ListUsers(ctx, "", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	sn.Users = page.Users
	if sn.Tokens, err = s.TokenCounts(ctx); err != nil {
		t.Fatal(err)
	}
	if sn.Sessions, err = s.Sessions(ctx, f.ann.ID); err != nil {
		t.Fatal(err)
	}
	if sn.Audit, _, err = s.ListAudit(ctx, model.AuditFilter{Limit: 100}); err != nil {
		t.Fatal(err)
	}
	if sn.Usage, err = s.UsageReport(ctx, clk.Now().Add(-time.Hour), model.UsageByModel); err != nil {
		t.Fatal(err)
	}
	if sn.Videos, _, err = s.VideoJobs(ctx, f.ann.ID, 10, 0); err != nil {
		t.Fatal(err)
	}
	if sn.Lockouts, err = s.Lockouts(ctx); err != nil {
		t.Fatal(err)
	}
	if sn.Conversations, err = s.ListConversations(ctx, model.ConversationFilter{UserID: f.ann.ID, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if sn.Conversation, sn.Messages, err = s.Conversation(ctx, f.ann.ID, f.conversation); err != nil {
		t.Fatal(err)
	}
	for _, id := range f.images {
		img, err := s.Image(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sn.Images = append(sn.Images, img)
	}
	if sn.Keys, _, err = s.APIKeys(ctx, model.APIKeyFilter{Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if sn.KeyByHash, err = s.APIKeyByHash(ctx, f.key.Hash); err != nil {
		t.Fatal(err)
	}
	if sn.Budget, err = s.UserBudget(ctx, f.ann.ID); err != nil {
		t.Fatal(err)
	}
	sp, err := s.MonthSpend(ctx, f.ann.ID, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	sn.Spent = sp.SpentUSD
	if sn.Workspace, err = s.WorkspaceCounts(ctx); err != nil {
		t.Fatal(err)
	}
	return sn
}

func same(t *testing.T, what string, got, want snapshot) {
	t.Helper()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s: %s differ:\n got %+v\nwant %+v", what, g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
		}
	}
}

// A DuckDB database moves to PostgreSQL with everything in it, and the
// sessions that were live go on working there: the current token
// refreshes, a rotated one is still caught as reuse, an ended one stays
// ended. The same export format brings it back to DuckDB.
func TestDuckDBToPostgreSQLAndBack(t *testing.T) {
	clk := storetest.NewClock()
	ctx := context.Background()
	duck := openDuckDB(t, clk.Now)
	f := populate(t, duck, clk)
	before := take(t, duck, f, clk)
	if len(before.Sessions) != 2 || before.Tokens[model.TokenRotated] != 1 || len(before.Lockouts) != 1 || len(before.Audit) < 2 ||
		len(before.Messages) != 2 || !before.Conversation.Pinned || len(before.Images) != 2 || len(before.Images[1].Content) != 10000 ||
		len(before.Keys) != 1 || before.KeyByHash.LastUsedAt == nil || before.Budget == nil || *before.Budget != 12.5 || before.Spent != 0.25 {
		t.Fatalf("the fixture is not what the test expects: %d sessions, tokens %v, %d lock-outs, %d audit entries, %d messages, "+
			"pinned %v, %d images, %d keys, budget %v, spent %v", len(before.Sessions), before.Tokens, len(before.Lockouts), len(before.Audit),
			len(before.Messages), before.Conversation.Pinned, len(before.Images), len(before.Keys), before.Budget, before.Spent)
	}
	if !namesTheDeleted(before.Audit) {
		t.Fatalf("the fixture's audit does not name the deleted user: %+v", before.Audit)
	}
	dir, rows := export(t, duck, clk.Now())
	for _, table := range transfer.Tables {
		if rows[table] == 0 {
			t.Fatalf("the fixture leaves %s empty: the round trip would prove nothing of it", table)
		}
	}

	pgs := openPostgres(t, clk.Now)
	importInto(t, pgs, dir)
	same(t, "PostgreSQL after the import", take(t, pgs, f, clk), before)

	back := openDuckDB(t, clk.Now)
	pgDir, pgRows := export(t, pgs, clk.Now())
	importInto(t, back, pgDir)
	same(t, "DuckDB after the way back", take(t, back, f, clk), before)
	_, backRows := export(t, back, clk.Now())
	for _, table := range transfer.Tables {
		if pgRows[table] != rows[table] || backRows[table] != rows[table] {
			t.Errorf("%s: %d rows from DuckDB, %d from PostgreSQL, %d from DuckDB again", table, rows[table], pgRows[table], backRows[table])
		}
	}

	for name, s := range map[string]engine{"postgres": pgs, "duckdb again": back} {
		if _, live, _ := s.SessionActive(ctx, f.live); !live {
			t.Fatalf("%s: the live session is not live", name)
		}
		for _, ended := range []uuid.UUID{f.revoked, f.expired} {
			if _, live, _ := s.SessionActive(ctx, ended); live {
				t.Fatalf("%s: an ended session is live", name)
			}
		}
		if _, err := s.Rotate(ctx, model.Rotation{OldHash: f.logout, NewHash: "x-" + name, ExpiresAt: clk.Now().Add(time.Hour)}); !errors.Is(err, model.ErrTokenInvalid) {
			t.Fatalf("%s: the logged-out token: %v", name, err)
		}
		se, err := s.Rotate(ctx, model.Rotation{OldHash: f.current, NewHash: "h3-" + name, ExpiresAt: clk.Now().Add(time.Hour)})
		if err != nil || se.ID != f.live || se.UserID != f.ann.ID {
			t.Fatalf("%s: refreshing the current token: %+v, %v", name, se, err)
		}
		if _, err := s.Rotate(ctx, model.Rotation{OldHash: f.rotated, NewHash: "y-" + name, ExpiresAt: clk.Now().Add(time.Hour)}); !errors.Is(err, model.ErrTokenReused) {
			t.Fatalf("%s: the rotated token: %v, want reuse", name, err)
		}
		if locked, _ := s.LockedUntil(ctx, []string{before.Lockouts[0].Key}); len(locked) != 1 {
			t.Fatalf("%s: the lock-out did not move", name)
		}
		// The short session stays short, the revoked key refused, the
		// used link used, and the live one works once.
		se, err = s.Rotate(ctx, model.Rotation{OldHash: "s1", NewHash: "s2-" + name, ExpiresAt: clk.Now().Add(720 * time.Hour),
			ShortExpiresAt: clk.Now().Add(12 * time.Hour)})
		if err != nil || se.ID != f.short || !se.Short {
			t.Fatalf("%s: refreshing the short session: %+v, %v", name, se, err)
		}
		if _, err := s.APIKeyByHash(ctx, f.revokedKey.Hash); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("%s: the revoked key: %v", name, err)
		}
		if _, err := s.RedeemAccountToken(ctx, f.usedLink, model.TokenInvite, "x", nil); !errors.Is(err, model.ErrAccountTokenInvalid) {
			t.Fatalf("%s: the used link: %v", name, err)
		}
		if u, err := s.RedeemAccountToken(ctx, f.resetLink, model.TokenReset, "new-"+name, nil); err != nil || u.ID != f.ann.ID {
			t.Fatalf("%s: the live link: %+v, %v", name, u, err)
		}
	}
}

// namesTheDeleted reports whether the audit names gone@example.com, whose
// account no longer exists.
func namesTheDeleted(audit []model.Audit) bool {
	for _, a := range audit {
		if a.Action == "admin.user_deleted" && a.TargetEmail == "gone@example.com" && a.ActorEmail == "root@example.com" {
			return true
		}
	}
	return false
}

// An export of an older format is refused, saying how to move it.
func TestAnOlderExportIsRefusedWithAWayForward(t *testing.T) {
	clk := storetest.NewClock()
	duck := openDuckDB(t, clk.Now)
	dir, _ := export(t, duck, clk.Now())
	path := filepath.Join(dir, transfer.ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(b), fmt.Sprintf(`"version": %d`, transfer.Version), `"version": 1`, 1)
	if old == string(b) {
		t.Fatal("the manifest has no version to edit")
	}
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = transfer.Open(dir)
	if err == nil || !strings.Contains(err.Error(), "version 1") || !strings.Contains(err.Error(), "import it with the backend that made it") {
		t.Fatalf("an export of version 1: %v", err)
	}
}

// An import goes into an empty database only, and all of it or nothing.
func TestImportRefusesAFullDatabaseAndDamagedFiles(t *testing.T) {
	clk := storetest.NewClock()
	duck := openDuckDB(t, clk.Now)
	populate(t, duck, clk)
	dir, _ := export(t, duck, clk.Now())
	for name, open := range map[string]func(*testing.T, func() time.Time) engine{"duckdb": openDuckDB, "postgres": openPostgres} {
		full := open(t, clk.Now)
		populate(t, full, clk)
		r, err := transfer.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := full.Import(context.Background(), r); err == nil {
			t.Fatalf("%s: an import into a database with data was accepted", name)
		}
	}
	if _, err := transfer.Create(dir); err == nil {
		t.Fatal("an export into a non-empty directory was accepted")
	}
	users := filepath.Join(dir, "users.jsonl")
	b, _ := os.ReadFile(users)
	if err := os.WriteFile(users, append(b, b...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Open(dir); err == nil {
		t.Fatal("an edited export was accepted")
	}
}
