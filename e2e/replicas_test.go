package e2e

// Several backend replicas on one PostgreSQL server (a throwaway cluster this
// test process starts): what they must guarantee together, checked from the
// outside with the real binaries.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// within polls cond until it holds, failing after d; it returns how long
// that took.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// metric reads one sample of a replica's /metrics (0 when absent).
func metric(t *testing.T, p *Proc, sample string) float64 {
	t.Helper()
	resp, err := httpClient.Get(p.URL + "/metrics")
	if err != nil {
		return -1 // a dead replica
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func aiEnv(fake *Proc) []string {
	return []string{"OPENROUTER_BASE_URL=" + fake.FakeBaseURL(), "OPENROUTER_API_KEY=" + FakeKey}
}

// apiJSON sends a JSON call through the frontend's /api proxy the way the
// page's scripts do (session cookies, the CSRF header).
func (c *cookieBrowser) apiJSON(method, path, body string, want int) string {
	c.t.Helper()
	if c.csrf == "" {
		c.get("/", http.StatusOK)
	}
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	req.Header.Set("Origin", c.base)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %.300s", method, path, resp.StatusCode, want, b)
	}
	return string(b)
}

func userID(t *testing.T, admin *client.Client, email string) string {
	t.Helper()
	list, err := admin.ListUsers(context.Background(), client.ListUsersParams{Query: email})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("find %s: %+v %v", email, list, err)
	}
	return list.Items[0].ID
}

// The frontend in front of two replicas: sign-up, sign-in, a refresh, chat
// and an admin's change all work through it; a session signed out on one
// replica is refused on the other; and with one replica killed the
// frontend goes on serving from the other.
func TestTwoReplicasBehindOneFrontend(t *testing.T) {
	fake := StartFake(t)
	bs := StartReplicas(t, 2, PostgresDatabase(t), t.TempDir(), aiEnv(fake)...)
	fe := StartFrontend(t, bs[0].URL+","+bs[1].URL)
	ctx := context.Background()

	c := newCookieBrowser(t, fe.URL)
	const email, password = "duo@example.com", "duo-password-1"
	c.post("/register", url.Values{"email": {email}, "password": {password}, "password_confirm": {password}}, http.StatusSeeOther)
	c.post("/login", url.Values{"email": {email}, "password": {password}}, http.StatusSeeOther)
	for range 4 { // round-robin: both replicas answer for the session
		if body := c.get("/api/users/me", http.StatusOK); !strings.Contains(body, email) {
			t.Fatalf("/api/users/me: %s", body)
		}
	}
	first := c.cookie("dg_refresh")
	c.dropCookie("dg_access") // expired: the frontend refreshes through a replica
	if body := c.get("/profile", http.StatusOK); !strings.Contains(body, email) || c.cookie("dg_refresh") == first {
		t.Fatalf("after a refresh: rotated %v", c.cookie("dg_refresh") != first)
	}
	chat := c.apiJSON("POST", "/api/ai/chat", `{"messages":[{"role":"user","content":"hello from two replicas"}]}`, http.StatusOK)
	if !strings.Contains(chat, `"message"`) {
		t.Fatalf("chat through the frontend: %s", chat)
	}

	admin := signIn(t, client.New(bs[1].URL), AdminEmail, AdminPassword)
	if _, err := admin.SetRole(ctx, userID(t, admin, email), api.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "the new role through the frontend", func() bool {
		return strings.Contains(c.get("/api/users/me", http.StatusOK), `"role":"admin"`)
	})

	// Signed out on one replica, refused on the other.
	pair, err := client.New(bs[0].URL).Login(ctx, api.LoginRequest{Email: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	onB := client.New(bs[1].URL).WithToken(pair.AccessToken)
	if _, err := onB.Me(ctx); err != nil {
		t.Fatal(err)
	}
	if err := client.New(bs[0].URL).Logout(ctx, pair.RefreshToken); err != nil {
		t.Fatal(err)
	}
	took := within(t, time.Second, "replica B refusing the signed-out session", func() bool {
		_, err := onB.Me(ctx)
		return client.IsStatus(err, http.StatusUnauthorized)
	})
	t.Logf("replica B refused the signed-out session after %s", took)
	c.post("/logout", url.Values{}, http.StatusSeeOther)

	// One replica dies: sign-in, pages and API calls go on through the other.
	bs[0].Kill(t)
	c2 := newCookieBrowser(t, fe.URL)
	c2.post("/login", url.Values{"email": {email}, "password": {password}}, http.StatusSeeOther)
	for i := range 6 {
		if body := c2.get("/api/users/me", http.StatusOK); !strings.Contains(body, email) {
			t.Fatalf("call %d with a replica down: %s", i, body)
		}
	}
	if body := c2.get("/profile", http.StatusOK); !strings.Contains(body, email) {
		t.Fatal("profile with a replica down")
	}
	if resp, err := httpClient.Get(fe.URL + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the frontend is not ready with one replica left: %v", err)
	} else {
		resp.Body.Close()
	}
}

// 20 concurrent refreshes of one token spread over two replicas: without a
// grace exactly one succeeds; with the default grace, exactly one of the
// tokens handed out stays usable.
func TestRefreshRotationIsAtomicAcrossReplicas(t *testing.T) {
	for _, grace := range []string{"0", "10s"} {
		t.Run("grace "+grace, func(t *testing.T) {
			bs := StartReplicas(t, 2, PostgresDatabase(t), t.TempDir(), "REFRESH_REUSE_GRACE="+grace)
			cs := []*client.Client{client.New(bs[0].URL), client.New(bs[1].URL)}
			ctx := context.Background()
			if _, err := cs[0].Register(ctx, api.RegisterRequest{Email: "rot@example.com", Password: "rotation-1"}); err != nil {
				t.Fatal(err)
			}
			for round := range 3 {
				pair, err := cs[round%2].Login(ctx, api.LoginRequest{Email: "rot@example.com", Password: "rotation-1"})
				if err != nil {
					t.Fatal(err)
				}
				var ok atomic.Int32
				handed := make([]string, 20)
				var wg sync.WaitGroup
				for i := range 20 {
					wg.Go(func() {
						next, err := cs[i%2].Refresh(ctx, pair.RefreshToken)
						switch {
						case err == nil:
							ok.Add(1)
							handed[i] = next.RefreshToken
						case !client.IsStatus(err, http.StatusUnauthorized):
							t.Errorf("refresh %d: %v", i, err)
						}
					})
				}
				wg.Wait()
				if grace == "0" {
					if ok.Load() != 1 {
						t.Fatalf("round %d: %d of 20 refreshes succeeded, want exactly 1", round, ok.Load())
					}
					continue
				}
				usable := 0
				for i, tok := range handed {
					if tok == "" {
						continue
					}
					if _, err := cs[i%2].Refresh(ctx, tok); err == nil {
						usable++
					}
				}
				if ok.Load() == 0 || usable != 1 {
					t.Fatalf("round %d: %d succeeded, %d of the tokens handed out usable; want ≥ 1 and exactly 1", round, ok.Load(), usable)
				}
			}
		})
	}
}

// Every way a session ends, on replica A, makes replica B refuse the
// session's access token within a second (B had just accepted it).
func TestEndingASessionOnOneReplicaEndsItOnTheOther(t *testing.T) {
	bs := StartReplicas(t, 2, PostgresDatabase(t), t.TempDir())
	a, b := client.New(bs[0].URL), client.New(bs[1].URL)
	ctx := context.Background()
	adminA := signIn(t, a, AdminEmail, AdminPassword)
	n := 0
	// session signs a fresh user in on A and returns the user's id, its
	// password, that session's tokens and a client of B carrying them.
	session := func() (id, password string, pair *api.TokenPair, onB *client.Client) {
		n++
		email, password := fmt.Sprintf("end%d@example.com", n), fmt.Sprintf("password-%d", n)
		u, err := a.Register(ctx, api.RegisterRequest{Email: email, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		if pair, err = a.Login(ctx, api.LoginRequest{Email: email, Password: password}); err != nil {
			t.Fatal(err)
		}
		onB = b.WithToken(pair.AccessToken)
		if _, err := onB.Me(ctx); err != nil {
			t.Fatal(err)
		}
		return u.ID, password, pair, onB
	}
	refused := func(name string, onB *client.Client) {
		took := within(t, time.Second, name+": replica B refusing the token", func() bool {
			_, err := onB.Me(ctx)
			return client.IsStatus(err, http.StatusUnauthorized)
		})
		t.Logf("%s: refused on B after %s", name, took)
	}

	_, _, pair, onB := session()
	if err := a.Logout(ctx, pair.RefreshToken); err != nil {
		t.Fatal(err)
	}
	refused("logout", onB)

	_, password, _, onB := session()
	me, err := onB.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Login(ctx, api.LoginRequest{Email: me.Email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	changed := "changed-password-1"
	if _, err := a.WithToken(other.AccessToken).UpdateMe(ctx, api.UpdateMeRequest{Password: &changed, CurrentPassword: password}); err != nil {
		t.Fatal(err)
	}
	refused("password change elsewhere", onB)

	id, _, _, onB := session()
	if _, err := adminA.SetRole(ctx, id, api.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "role change: replica B seeing the new role", func() bool {
		me, err := onB.Me(ctx)
		return err == nil && me.Role == api.RoleAdmin
	})

	id, _, _, onB = session()
	if err := adminA.DeleteUser(ctx, id); err != nil {
		t.Fatal(err)
	}
	refused("deletion", onB)

	_, password, pair, onB = session()
	me, _ = onB.Me(ctx)
	second, err := a.Login(ctx, api.LoginRequest{Email: me.Email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	list, err := a.WithToken(second.AccessToken).Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		if !s.Current {
			if err := a.WithToken(second.AccessToken).RevokeSession(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	refused("revocation", onB)
	_ = pair
}

// Two admins demote or delete each other at the same moment on different
// replicas: exactly one admin is left, every round.
func TestLastAdminHoldsAcrossReplicas(t *testing.T) {
	bs := StartReplicas(t, 2, PostgresDatabase(t), t.TempDir())
	cs := []*client.Client{client.New(bs[0].URL), client.New(bs[1].URL)}
	ctx := context.Background()
	survivor := signIn(t, cs[0], AdminEmail, AdminPassword)
	survivorEmail := AdminEmail
	for round := range 6 {
		var admins [2]*client.Client
		var ids, emails [2]string
		for i := range 2 {
			emails[i] = fmt.Sprintf("adm-%d-%d@example.com", round, i)
			u, err := cs[0].Register(ctx, api.RegisterRequest{Email: emails[i], Password: "admin-password"})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = u.ID
			if _, err := survivor.SetRole(ctx, u.ID, api.RoleAdmin); err != nil {
				t.Fatal(err)
			}
			admins[i] = signIn(t, cs[i], emails[i], "admin-password")
		}
		if _, err := survivor.SetRole(ctx, userID(t, survivor, survivorEmail), api.RoleUser); err != nil {
			t.Fatalf("round %d: the old admin steps down: %v", round, err)
		}
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				target := ids[1-i]
				if round%2 == 0 {
					_, results[i] = admins[i].SetRole(ctx, target, api.RoleUser)
				} else {
					results[i] = admins[i].DeleteUser(ctx, target)
				}
			})
		}
		wg.Wait()
		won := -1
		for i, err := range results {
			switch {
			case err == nil:
				if won >= 0 {
					t.Fatalf("round %d: both admins removed the other", round)
				}
				won = i
			// The loser's request found the last admin (409), or came after it
			// lost the role (403) or was deleted (401).
			case client.IsStatus(err, http.StatusConflict), client.IsStatus(err, http.StatusForbidden), client.IsStatus(err, http.StatusUnauthorized):
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: neither change went through: %v", round, results)
		}
		survivor, survivorEmail = admins[won], emails[won]
		list, err := survivor.ListUsers(ctx, client.ListUsersParams{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for _, u := range list.Items {
			if u.Role == api.RoleAdmin {
				count++
			}
		}
		if count != 1 {
			t.Fatalf("round %d: %d admins left, want 1", round, count)
		}
	}
}

// Failed sign-ins on either replica count toward one lock-out, which both
// enforce, and which an admin on either lifts.
func TestLoginThrottlingIsShared(t *testing.T) {
	bs := StartReplicas(t, 2, PostgresDatabase(t), t.TempDir(), "LOGIN_MAX_FAILURES=3")
	cs := []*client.Client{client.New(bs[0].URL), client.New(bs[1].URL)}
	ctx := context.Background()
	if _, err := cs[0].Register(ctx, api.RegisterRequest{Email: "guess@example.com", Password: "right-password"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, err := cs[i%2].Login(ctx, api.LoginRequest{Email: "guess@example.com", Password: "wrong-password"})
		if !client.IsStatus(err, http.StatusUnauthorized) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	for i, c := range cs {
		if _, err := c.Login(ctx, api.LoginRequest{Email: "guess@example.com", Password: "right-password"}); !client.IsStatus(err, http.StatusTooManyRequests) {
			t.Fatalf("replica %d after 3 failures spread over both: %v, want 429", i, err)
		}
	}
	// The admin signs in from elsewhere (the lock is on the guesser's pair).
	admin := signIn(t, cs[1], AdminEmail, AdminPassword)
	locks, err := admin.Lockouts(ctx)
	if err != nil || len(locks.Items) != 1 {
		t.Fatalf("lock-outs on replica B: %+v %v", locks, err)
	}
	if err := signIn(t, cs[0], AdminEmail, AdminPassword).LiftLockout(ctx, locks.Items[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cs[1].Login(ctx, api.LoginRequest{Email: "guess@example.com", Password: "right-password"}); err != nil {
		t.Fatalf("after the lift on replica A, on replica B: %v", err)
	}
	audit, err := admin.Audit(ctx, client.AuditParams{Action: api.AuditLoginFailed})
	if err != nil || audit.Total != 3 {
		t.Fatalf("%d failed sign-ins audited, want 3 (%v)", audit.Total, err)
	}
}

// Each background job runs on one replica at a time; when its leader is
// SIGKILLed the other replica takes it over, and a video job submitted
// before the kill completes without any client asking about it.
func TestBackgroundWorkRunsOnceAndMovesWhenTheLeaderDies(t *testing.T) {
	fake := StartFake(t, "FAKE_OPENROUTER_VIDEO_AFTER=3s")
	bs := StartReplicas(t, 2, PostgresDatabase(t), t.TempDir(), append(aiEnv(fake), "TOKEN_PURGE_INTERVAL=1s")...)
	ctx := context.Background()
	leader := func(job string) int {
		lead := -1
		for i, b := range bs {
			if metric(t, b, `duckgate_background_leader{job="`+job+`"}`) == 1 {
				if lead >= 0 {
					t.Fatalf("two replicas lead %s", job)
				}
				lead = i
			}
		}
		return lead
	}
	within(t, 5*time.Second, "a leader for each job", func() bool { return leader("video-poller") >= 0 && leader("token-purge") >= 0 })
	time.Sleep(2500 * time.Millisecond)
	purger := leader("token-purge")
	runs := metric(t, bs[purger], `duckgate_background_runs_total{job="token-purge"}`)
	if other := metric(t, bs[1-purger], `duckgate_background_runs_total{job="token-purge"}`); runs < 2 || other != 0 {
		t.Fatalf("token purge ran %v times on its leader and %v on the other replica", runs, other)
	}

	user := signIn(t, client.New(bs[0].URL), AdminEmail, AdminPassword)
	job, err := user.GenerateVideo(ctx, api.VideoRequest{Prompt: "a duck crossing a road"})
	if err != nil {
		t.Fatal(err)
	}
	poller := leader("video-poller")
	bs[poller].Kill(t)
	survivor := bs[1-poller]
	took := within(t, 5*time.Second, "the other replica taking the jobs over", func() bool {
		return metric(t, survivor, `duckgate_background_leader{job="video-poller"}`) == 1 &&
			metric(t, survivor, `duckgate_background_leader{job="token-purge"}`) == 1
	})
	t.Logf("jobs moved %s after the kill", took)
	lister := signIn(t, client.New(survivor.URL), AdminEmail, AdminPassword)
	within(t, 20*time.Second, "the video job completing under the new leader", func() bool {
		list, err := lister.VideoJobs(ctx, 10, 0) // a listing does not poll upstream
		return err == nil && len(list.Items) == 1 && list.Items[0].ID == job.ID && list.Items[0].Status == api.VideoCompleted
	})
}

// Chat calls spread over two replicas while one is SIGKILLed: every call
// that completed has its usage record, and no call has two; failed
// sign-ins on both replicas are audited once each.
func TestUsageAndAuditAreNeitherLostNorDoubled(t *testing.T) {
	fake := StartFake(t)
	bs := StartReplicas(t, 2, PostgresDatabase(t), t.TempDir(), append(aiEnv(fake), "LOGIN_MAX_FAILURES=1000")...)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	users := []*client.Client{signIn(t, client.New(bs[0].URL), AdminEmail, AdminPassword), nil}
	users[1] = signIn(t, client.New(bs[1].URL), AdminEmail, AdminPassword)
	req := api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "count me once"}}}
	var attempted, completed, failedLogins, loginAttempts atomic.Int64
	var killed atomic.Bool
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Go(func() {
			c := users[w%2]
			for ctx.Err() == nil && (w%2 == 1 || !killed.Load()) { // no calls to the dead replica
				if w%4 == 3 {
					loginAttempts.Add(1)
					_, err := client.New(bs[w%2].URL).Login(ctx, api.LoginRequest{Email: AdminEmail, Password: "not-the-password"})
					if client.IsStatus(err, http.StatusUnauthorized) {
						failedLogins.Add(1)
					}
					continue
				}
				attempted.Add(1)
				if _, err := c.Chat(ctx, req); err == nil {
					completed.Add(1)
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	bs[0].Kill(t)
	killed.Store(true)
	time.Sleep(time.Second)
	stop()
	wg.Wait()

	admin := signIn(t, client.New(bs[1].URL), AdminEmail, AdminPassword)
	report, err := admin.Usage(context.Background(), client.UsageParams{Days: 1, GroupBy: "model"})
	if err != nil {
		t.Fatal(err)
	}
	var ok, all int64
	for _, row := range report.Rows {
		ok += int64(row.Requests - row.Errors)
		all += int64(row.Requests)
	}
	// Not lost: a successful record for every completed call. Not doubled:
	// no more records than calls were made.
	if ok < completed.Load() || all > attempted.Load() {
		t.Fatalf("%d calls made, %d completed; %d successful records and %d in all", attempted.Load(), completed.Load(), ok, all)
	}
	t.Logf("%d calls made, %d completed; %d records (%d successful)", attempted.Load(), completed.Load(), all, ok)
	audit, err := admin.Audit(context.Background(), client.AuditParams{Action: api.AuditLoginFailed, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Every refused sign-in is audited; none twice (a sign-in cut off by the
	// kill may be audited without its answer arriving).
	if total := int64(audit.Total); total < failedLogins.Load() || total > loginAttempts.Load() {
		t.Fatalf("%d sign-ins answered 401 of %d tried, but %d are audited", failedLogins.Load(), loginAttempts.Load(), total)
	}
}
