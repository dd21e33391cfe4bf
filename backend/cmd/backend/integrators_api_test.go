package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// newKey creates an API key of c's user with these scopes and returns it.
func newKey(t *testing.T, c *client.Client, scopes ...string) *api.NewAPIKey {
	t.Helper()
	k, err := c.CreateAPIKey(context.Background(), api.APIKeyRequest{Name: "test " + strings.Join(scopes, "+"), Scopes: scopes})
	if err != nil {
		t.Fatalf("create key %v: %v", scopes, err)
	}
	return k
}

var keySecret = regexp.MustCompile(`^dg_[0-9A-Za-z]{43}$`)

func TestAPIKeysAreShownOnceListedUsedAndRevoked(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	ts, _ := serveTestApp(t, a)
	ctx := context.Background()
	ann, annID := ts.newUser("ann.keys@example.com")

	k := newKey(t, ann, api.ScopeRead)
	if !keySecret.MatchString(k.Secret) || !strings.HasPrefix(k.Secret, k.Prefix) || len(k.Prefix) != 11 ||
		k.UserID != annID || k.Expired || k.LastUsedAt != nil {
		t.Fatalf("new key: %+v", k)
	}
	if other := newKey(t, ann, api.ScopeAI); other.Secret == k.Secret || other.Prefix == k.Prefix {
		t.Fatal("two keys share a secret or prefix")
	}
	list, err := ann.APIKeys(ctx, 0, 0)
	if err != nil || list.Total != 2 || list.Items[1].ID != k.ID || list.Items[1].Prefix != k.Prefix {
		t.Fatalf("list: %+v, %v", list, err)
	}
	_, _, raw := ts.do("GET", "/users/me/api-keys", "", "", "Authorization", "Bearer "+ann.Token())
	if strings.Contains(raw, k.Secret) || strings.Contains(raw, "secret") {
		t.Fatalf("a listing shows a secret: %s", raw)
	}

	// The key authenticates as its user, on what its scope allows.
	withKey := ts.anon.WithAPIKey(k.Secret)
	me, err := withKey.Me(ctx)
	if err != nil || me.ID != annID {
		t.Fatalf("GET /users/me with the key: %+v, %v", me, err)
	}
	if _, err := withKey.MyUsage(ctx, time.Time{}, time.Time{}); err != nil {
		t.Fatalf("GET /users/me/usage with a read key: %v", err)
	}
	p := wantStatus(t, func() error { _, err := withKey.Models(ctx, ""); return err }(), http.StatusForbidden)
	if !strings.Contains(p.Detail, "scope ai") {
		t.Fatalf("a read key on /ai/models: %q", p.Detail)
	}
	for _, call := range []func() error{
		func() error { _, err := withKey.APIKeys(ctx, 0, 0); return err },
		func() error {
			_, err := withKey.CreateAPIKey(ctx, api.APIKeyRequest{Name: "x", Scopes: []string{"ai"}})
			return err
		},
		func() error { _, err := withKey.Sessions(ctx); return err },
		func() error {
			pw := "new-password-123"
			_, err := withKey.UpdateMe(ctx, api.UpdateMeRequest{Password: &pw, CurrentPassword: "password-ann.keys@example.com"})
			return err
		},
	} {
		if p := wantStatus(t, call(), http.StatusForbidden); !strings.Contains(p.Detail, "API keys cannot be used here") {
			t.Fatalf("a key on account management: %q", p.Detail)
		}
	}
	// An admin's key is no admin.
	adminKey := newKey(t, ts.admin, api.ScopeAI, api.ScopeRead)
	wantStatus(t, func() error { _, err := ts.anon.WithAPIKey(adminKey.Secret).Stats(ctx); return err }(), http.StatusForbidden)

	// Last use is recorded in batches.
	if err := a.auth.FlushKeyUses(ctx); err != nil {
		t.Fatal(err)
	}
	list, _ = ann.APIKeys(ctx, 0, 0)
	if used := list.Items[1]; used.LastUsedAt == nil || used.LastUsedIP != "127.0.0.1" {
		t.Fatalf("last use not recorded: %+v", used)
	}

	// Revocation takes effect at once; another user cannot revoke it.
	bob, _ := ts.newUser("bob.keys@example.com")
	wantStatus(t, bob.RevokeAPIKey(ctx, k.ID), http.StatusNotFound)
	if err := ann.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	status, header, body := ts.do("GET", "/users/me", "", "", "Authorization", "Bearer "+k.Secret)
	if status != 401 || !strings.Contains(problemOf(t, header, body).Detail, "API key is invalid") || header.Get("WWW-Authenticate") == "" {
		t.Fatalf("a revoked key: %d %s", status, body)
	}
	wantStatus(t, ann.RevokeAPIKey(ctx, k.ID), http.StatusNotFound)
	status, _, _ = ts.do("GET", "/users/me", "", "", "Authorization", "Bearer dg_"+strings.Repeat("A", 43))
	if status != 401 {
		t.Fatalf("an unknown key: %d", status)
	}

	// Admins list everyone's keys (with emails, without secrets) and revoke any.
	all, err := ts.admin.AllAPIKeys(ctx, 0, 0)
	if err != nil || all.Total != 2 {
		t.Fatalf("admin listing: %+v, %v", all, err)
	}
	var annsAI api.APIKey
	for _, item := range all.Items {
		if item.UserID == annID {
			annsAI = item
		}
	}
	if annsAI.UserEmail != "ann.keys@example.com" {
		t.Fatalf("admin listing without the owner's email: %+v", all.Items)
	}
	if err := ts.admin.RevokeAnyAPIKey(ctx, annsAI.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, ts.admin.RevokeAnyAPIKey(ctx, annsAI.ID), http.StatusNotFound)

	// Creation and revocation are audited.
	for action, want := range map[string]int{api.AuditKeyCreated: 3, api.AuditKeyRevoked: 1, api.AuditAdminKeyRevoked: 1} {
		audit, err := ts.admin.Audit(ctx, client.AuditParams{Action: action})
		if err != nil || audit.Total != want {
			t.Errorf("%s: %d audit entries (%v), want %d", action, audit.Total, err, want)
		}
	}
}

func TestAPIKeyRequestsAreChecked(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ann, _ := ts.newUser("ann.checks@example.com")
	ctx := context.Background()
	past, far := time.Now().Add(-time.Hour), time.Now().Add(11*365*24*time.Hour)
	zero, over := 0, 100_001
	for name, in := range map[string]api.APIKeyRequest{
		"no name":       {Scopes: []string{"ai"}},
		"no scope":      {Name: "x"},
		"unknown scope": {Name: "x", Scopes: []string{"admin"}},
		"past expiry":   {Name: "x", Scopes: []string{"ai"}, ExpiresAt: &past},
		"far expiry":    {Name: "x", Scopes: []string{"ai"}, ExpiresAt: &far},
		"zero rate":     {Name: "x", Scopes: []string{"ai"}, RequestsPerMinute: &zero},
		"huge rate":     {Name: "x", Scopes: []string{"ai"}, RequestsPerMinute: &over},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ann.CreateAPIKey(ctx, in)
			wantStatus(t, err, http.StatusUnprocessableEntity)
		})
	}
}

func TestDeletingAUserStopsTheirKeysAtOnce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	ann, annID := ts.newUser("ann.deleted@example.com")
	k := newKey(t, ann, api.ScopeRead)
	if _, err := ts.anon.WithAPIKey(k.Secret).Me(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ts.admin.DeleteUser(ctx, annID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, func() error { _, err := ts.anon.WithAPIKey(k.Secret).Me(ctx); return err }(), http.StatusUnauthorized)
}

// TestEveryOperationAdmitsAPIKeysByItsDocumentedScope calls every secured
// operation of the served document with an access token, a key holding
// every scope, and keys holding every scope but the operation's: a key
// passes exactly where the document names its scope (x-api-key-scope),
// never on account management or admin operations, and an access token
// is never refused as a key would be.
func TestEveryOperationAdmitsAPIKeysByItsDocumentedScope(t *testing.T) {
	t.Parallel()
	_, fakeURL := newFake(t, fakeopenrouter.Options{})
	ts := newTestServer(t, aiEnv(fakeURL, "BACKUP_DIR", t.TempDir())) // POST /admin/backup runs
	user, _ := ts.newUser("matrix@example.com")
	allScopes := newKey(t, user, api.ScopeAI, api.ScopeRead).Secret
	onlyRead := newKey(t, user, api.ScopeRead).Secret
	onlyAI := newKey(t, user, api.ScopeAI).Secret
	adminKey := newKey(t, ts.admin, api.ScopeAI, api.ScopeRead).Secret
	admin := ts.adminToken()

	var doc struct {
		Paths map[string]map[string]map[string]any `json:"paths"`
	}
	_, _, body := ts.do("GET", "/openapi.json", "", "")
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	scoped := 0
	for path, item := range doc.Paths {
		for method, op := range item {
			if sec, _ := op["security"].([]any); len(sec) == 0 {
				continue
			}
			method := strings.ToUpper(method)
			scope, _ := op["x-api-key-scope"].(string)
			adminOnly := strings.HasPrefix(op["description"].(string), "Requires the admin role.")
			concrete := strings.NewReplacer("{id}", uuid.NewString()).Replace(path)
			t.Run(method+" "+path, func(t *testing.T) {
				refusedAsKey := func(status int, body string) bool {
					return status == http.StatusForbidden && (strings.Contains(body, "API keys cannot be used here") || strings.Contains(body, "does not have the scope"))
				}
				status, _, body := ts.do(method, concrete, "", "", "Authorization", "Bearer "+admin)
				if status == http.StatusUnauthorized || refusedAsKey(status, body) {
					t.Errorf("an admin's access token: %d %s", status, body)
				}
				for _, key := range []string{allScopes, adminKey} {
					status, _, body = ts.do(method, concrete, "", "", "Authorization", "Bearer "+key)
					if got, want := refusedAsKey(status, body), scope == "" || adminOnly; got != want || status == 401 {
						t.Errorf("a key with every scope: %d %s (scope %q)", status, body, scope)
					}
				}
				if scope == "" {
					return
				}
				scoped++
				without := map[string]string{api.ScopeAI: onlyRead, api.ScopeRead: onlyAI}[scope]
				status, _, body = ts.do(method, concrete, "", "", "Authorization", "Bearer "+without)
				if !refusedAsKey(status, body) {
					t.Errorf("a key without the scope %s: %d %s", scope, status, body)
				}
			})
		}
	}
	if scoped < 10 {
		t.Fatalf("only %d operations admit keys", scoped)
	}
}

func TestRateLimitsPerUserAndPerKey(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{}, "AI_REQUESTS_PER_MINUTE", "3")
	ctx := context.Background()
	user, _ := ts.newUser("rate@example.com")
	one := 1
	k, err := user.CreateAPIKey(ctx, api.APIKeyRequest{Name: "slow", Scopes: []string{api.ScopeAI}, RequestsPerMinute: &one})
	if err != nil {
		t.Fatal(err)
	}
	chat := api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "hi"}}}
	viaKey := ts.anon.WithAPIKey(k.Secret)
	if _, err := viaKey.Chat(ctx, chat); err != nil {
		t.Fatal(err)
	}
	p := wantStatus(t, func() error { _, err := viaKey.Chat(ctx, chat); return err }(), http.StatusTooManyRequests)
	if !strings.Contains(p.Detail, "1 AI requests a minute for this API key") || p.RetryAfter < 1 || p.RetryAfter > 60 {
		t.Fatalf("the key's limit: %+v", p)
	}
	// The key's call counted for the user too: two more fit, then the user's limit.
	for range 2 {
		if _, err := user.Chat(ctx, chat); err != nil {
			t.Fatal(err)
		}
	}
	p = wantStatus(t, func() error { _, err := user.Chat(ctx, chat); return err }(), http.StatusTooManyRequests)
	if !strings.Contains(p.Detail, "3 AI requests a minute for this user") || p.RetryAfter != 20 {
		t.Fatalf("the user's limit: %+v", p)
	}
	// Listings are not metered; /v1 answers 429 in OpenAI's envelope.
	if _, err := user.Models(ctx, ""); err != nil {
		t.Fatal(err)
	}
	status, header, body := ts.do("POST", "/v1/chat/completions", "application/json", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+user.Token())
	if status != 429 || header.Get("Retry-After") == "" || !strings.Contains(body, `"code":"rate_limit_exceeded"`) {
		t.Fatalf("/v1 over the limit: %d %v %s", status, header, body)
	}
	// Another user has their own allowance.
	other, _ := ts.newUser("rate2@example.com")
	if _, err := other.Chat(ctx, chat); err != nil {
		t.Fatal(err)
	}
}

func TestBudgetsRefuseCallsAtTheLimitWithWhenItResets(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{}, "AI_MONTHLY_BUDGET_USD", "5")
	ctx := context.Background()
	user, userID := ts.newUser("budget@example.com")
	chat := api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "hi"}}}
	if _, err := user.Chat(ctx, chat); err != nil {
		t.Fatal(err)
	}
	usage, err := user.MyUsage(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b := usage.Budget
	if b.LimitUSD == nil || *b.LimitUSD != 5 || b.Override != nil || b.DefaultUSD == nil || b.SpentUSD <= 0 || b.ReservedUSD != 0 ||
		b.ResetsAt.Day() != 1 || !b.ResetsAt.After(time.Now()) || usage.Requests != 1 || usage.Cost != b.SpentUSD {
		t.Fatalf("usage after one call: %+v", usage)
	}

	zero := 0.0
	set, err := ts.admin.SetBudget(ctx, userID, &zero)
	if err != nil || set.Override == nil || *set.Override != 0 || *set.LimitUSD != 0 {
		t.Fatalf("set a budget of 0: %+v, %v", set, err)
	}
	p := wantStatus(t, func() error { _, err := user.Chat(ctx, chat); return err }(), http.StatusPaymentRequired)
	if p.Type != api.TypeBudgetExceeded || !strings.Contains(p.Detail, "monthly budget is $0") {
		t.Fatalf("402 problem: %+v", p)
	}
	status, _, body := ts.do("POST", "/v1/chat/completions", "application/json", `{"messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+user.Token())
	if status != 402 || !strings.Contains(body, `"type":"insufficient_quota"`) {
		t.Fatalf("/v1 at a budget of 0: %d %s", status, body)
	}
	// A limit just above what is spent admits one call, then says when it resets.
	limit := b.SpentUSD + 1e-7
	if _, err := ts.admin.SetBudget(ctx, userID, &limit); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Chat(ctx, chat); err != nil {
		t.Fatalf("a call under the limit: %v", err)
	}
	p = wantStatus(t, func() error { _, err := user.GenerateText(ctx, api.TextRequest{Prompt: "hi"}); return err }(), http.StatusPaymentRequired)
	if !strings.Contains(p.Detail, "is used up") || !strings.Contains(p.Detail, b.ResetsAt.Format(time.RFC3339)) {
		t.Fatalf("402 at the limit: %q", p.Detail)
	}
	// Back to the default; unknown users and bad amounts are refused.
	if set, err = ts.admin.SetBudget(ctx, userID, nil); err != nil || set.Override != nil || *set.LimitUSD != 5 {
		t.Fatalf("back to the default: %+v, %v", set, err)
	}
	if _, err := user.Chat(ctx, chat); err != nil {
		t.Fatal(err)
	}
	_, err = ts.admin.SetBudget(ctx, uuid.NewString(), &zero)
	wantStatus(t, err, http.StatusNotFound)
	minus := -1.0
	_, err = ts.admin.SetBudget(ctx, userID, &minus)
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if audit, _ := ts.admin.Audit(ctx, client.AuditParams{Action: api.AuditBudgetSet}); audit.Total != 3 {
		t.Fatalf("%d budget audits, want 3", audit.Total)
	}
}

// TestConcurrentCallsOvershootTheBudgetByAtMostTheCallsInFlight runs
// many chats at once against a small budget: each call reserves its
// estimate before it starts, so once the limit is reached every later call
// is refused, and what is spent exceeds the limit by at most the cost of
// the calls that were in flight together.
func TestConcurrentCallsOvershootTheBudgetByAtMostTheCallsInFlight(t *testing.T) {
	t.Parallel()
	const workers = 16
	ts, _ := newAIServer(t, fakeopenrouter.Options{ChunkDelay: 2 * time.Millisecond}, "AI_REQUESTS_PER_MINUTE", "0")
	ctx := context.Background()
	user, userID := ts.newUser("overshoot@example.com")
	limit := 0.0004 // about twenty calls of the fake's cost
	if _, err := ts.admin.SetBudget(ctx, userID, &limit); err != nil {
		t.Fatal(err)
	}
	var (
		mu            sync.Mutex
		refused, done int
		maxCost       float64
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				req := api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "count the ducks, worker " + strconv.Itoa(w)}}}
				var cost float64
				var err error
				if w%2 == 0 {
					var out *api.ChatResponse
					if out, err = user.Chat(ctx, req); err == nil && out.Usage.Cost != nil {
						cost = *out.Usage.Cost
					}
				} else {
					var stream *client.ChatStream
					if stream, err = user.ChatStream(ctx, req); err == nil {
						for {
							chunk, err := stream.Next()
							if err != nil {
								break
							}
							if chunk.Usage != nil && chunk.Usage.Cost != nil {
								cost = *chunk.Usage.Cost
							}
						}
						stream.Close()
					}
				}
				mu.Lock()
				if err != nil {
					refused++
					mu.Unlock()
					if !client.IsStatus(err, http.StatusPaymentRequired) {
						t.Errorf("worker %d: %v", w, err)
					}
					return
				}
				done++
				maxCost = max(maxCost, cost)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	usage, err := user.MyUsage(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	spent := usage.Budget.SpentUSD
	t.Logf("%d calls done, %d refused; spent $%.7f of $%.7f (max call $%.7f)", done, refused, spent, limit, maxCost)
	if refused != workers || done < 10 {
		t.Fatalf("%d refused (want every worker to stop at the limit), %d done", refused, done)
	}
	if spent < limit || spent > limit+workers*maxCost {
		t.Fatalf("spent $%.7f: outside [limit, limit + %d calls in flight] = [%.7f, %.7f]", spent, workers, limit, limit+workers*maxCost)
	}
	if usage.Budget.ReservedUSD != 0 {
		t.Fatalf("reservations left after every call settled: %v", usage.Budget.ReservedUSD)
	}
}

func TestMyUsageByDayAndModelOverAPeriod(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{})
	ctx := context.Background()
	user, _ := ts.newUser("usage@example.com")
	for _, m := range []string{"openai/gpt-4o-mini", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4.5"} {
		if _, err := user.Chat(ctx, api.ChatRequest{Model: m, Messages: []api.ChatMessage{{Role: "user", Content: "hello there"}}}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := user.MyUsage(ctx, time.Now().Add(-48*time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if u.Requests != 3 || len(u.ByDay) != 1 || u.ByDay[0].Key != time.Now().UTC().Format(time.DateOnly) || len(u.ByModel) != 2 ||
		u.ByModel[0].Requests+u.ByModel[1].Requests != 3 || u.PromptTokens == 0 || u.Cost <= 0 || u.Budget.LimitUSD != nil {
		t.Fatalf("usage: %+v", u)
	}
	// Admins see everyone's use in /admin/usage.
	report, err := ts.admin.Usage(ctx, client.UsageParams{Days: 1, GroupBy: "user"})
	if err != nil || len(report.Rows) != 1 || report.Rows[0].Requests != 3 {
		t.Fatalf("admin report: %+v, %v", report, err)
	}
	for _, q := range []string{"from=yesterday", "to=2026-13-01", "from=2026-03-01&to=2026-02-01", "from=2020-01-01&to=2026-01-01"} {
		status, _, body := ts.do("GET", "/users/me/usage?"+q, "", "", "Authorization", "Bearer "+user.Token())
		if status != 422 {
			t.Errorf("%s: %d %s", q, status, body)
		}
	}
}
