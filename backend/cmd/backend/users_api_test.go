package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

func ptr[T any](v T) *T { return &v }

func TestUpdateMeNeedsTheCurrentPassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	me, _ := ts.newUser("self@example.com")

	_, err := me.UpdateMe(ctx, api.UpdateMeRequest{Email: ptr("new@example.com")})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	_, err = me.UpdateMe(ctx, api.UpdateMeRequest{Email: ptr("new@example.com"), CurrentPassword: "wrong-password"})
	wantStatus(t, err, http.StatusForbidden)
	_, err = me.UpdateMe(ctx, api.UpdateMeRequest{Email: ptr(testAdminEmail), CurrentPassword: "password-self@example.com"})
	wantStatus(t, err, http.StatusConflict)
	_, err = me.UpdateMe(ctx, api.UpdateMeRequest{Password: ptr("short"), CurrentPassword: "password-self@example.com"})
	wantStatus(t, err, http.StatusUnprocessableEntity)

	u, err := me.UpdateMe(ctx, api.UpdateMeRequest{Email: ptr(" New@Example.com "), CurrentPassword: "password-self@example.com"})
	if err != nil || u.Email != "new@example.com" {
		t.Fatalf("email change: %+v %v", u, err)
	}
	if got, err := me.Me(ctx); err != nil || got.Email != "new@example.com" {
		t.Fatalf("me after change: %+v %v", got, err)
	}
	if _, err := ts.anon.Login(ctx, api.LoginRequest{Email: "new@example.com", Password: "password-self@example.com"}); err != nil {
		t.Fatalf("login with the new email: %v", err)
	}
}

func TestPasswordChangeSignsOutOtherSessions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	ts.register("pw@example.com", "old-password")
	laptop, _ := ts.loginPair("pw@example.com", "old-password")
	phone, phonePair := ts.loginPair("pw@example.com", "old-password")

	if _, err := laptop.UpdateMe(ctx, api.UpdateMeRequest{Password: ptr("new-password"), CurrentPassword: "old-password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := laptop.Me(ctx); err != nil {
		t.Fatalf("the session that changed the password ended: %v", err)
	}
	_, err := phone.Me(ctx)
	wantStatus(t, err, 401)
	_, err = ts.anon.Refresh(ctx, phonePair.RefreshToken)
	wantStatus(t, err, 401)
	_, err = ts.anon.Login(ctx, api.LoginRequest{Email: "pw@example.com", Password: "old-password"})
	wantStatus(t, err, 401)
	if _, err := ts.anon.Login(ctx, api.LoginRequest{Email: "pw@example.com", Password: "new-password"}); err != nil {
		t.Fatal(err)
	}
}

func TestSessionsCanBeListedAndEnded(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	ts.register("multi@example.com", "multi-password")
	pair, err := ts.anon.Login(client.WithForwarded(ctx, "", "Laptop Browser"), api.LoginRequest{Email: "multi@example.com", Password: "multi-password"})
	if err != nil {
		t.Fatal(err)
	}
	laptop := ts.anon.WithToken(pair.AccessToken)
	phone, _ := ts.loginPair("multi@example.com", "multi-password")
	tablet, _ := ts.loginPair("multi@example.com", "multi-password")

	list, err := laptop.Sessions(ctx)
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("sessions: %+v %v", list, err)
	}
	var current, other string
	for _, s := range list.Items {
		if s.Current {
			current = s.ID
			if s.UserAgent != "Laptop Browser" || s.IP != "127.0.0.1" {
				t.Errorf("current session device: %+v", s)
			}
		} else {
			other = s.ID
		}
	}
	if current == "" || other == "" {
		t.Fatalf("no current session marked: %+v", list.Items)
	}
	// Another user's session id is not found.
	stranger, _ := ts.newUser("stranger@example.com")
	wantStatus(t, stranger.RevokeSession(ctx, other), 404)
	wantStatus(t, laptop.RevokeSession(ctx, "not-a-uuid"), 404)

	if err := laptop.RevokeSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	if list, _ := laptop.Sessions(ctx); len(list.Items) != 2 {
		t.Fatalf("after revoking one: %d sessions", len(list.Items))
	}
	if err := laptop.RevokeOtherSessions(ctx); err != nil {
		t.Fatal(err)
	}
	_, errPhone := phone.Me(ctx)
	_, errTablet := tablet.Me(ctx)
	wantStatus(t, errPhone, 401)
	wantStatus(t, errTablet, 401)
	if list, _ := laptop.Sessions(ctx); len(list.Items) != 1 || !list.Items[0].Current {
		t.Fatalf("after signing out others: %+v", list)
	}
}

func TestAdminsListAndSearchUsers(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	for _, e := range []string{"alpha@example.com", "beta@example.com", "gamma@corp.example", "delta@corp.example"} {
		ts.register(e, "password-123")
	}
	all, err := ts.admin.ListUsers(ctx, client.ListUsersParams{})
	if err != nil || all.Total != 5 || len(all.Items) != 5 {
		t.Fatalf("all users: %+v %v", all, err)
	}
	page, err := ts.admin.ListUsers(ctx, client.ListUsersParams{Limit: 2, Offset: 2})
	if err != nil || page.Total != 5 || len(page.Items) != 2 || page.Items[0].ID != all.Items[2].ID {
		t.Fatalf("page: %+v %v", page, err)
	}
	corp, err := ts.admin.ListUsers(ctx, client.ListUsersParams{Query: "CORP"})
	if err != nil || corp.Total != 2 {
		t.Fatalf("search: %+v %v", corp, err)
	}
	for _, bad := range []string{"limit=0", "limit=201", "limit=x", "offset=-1"} {
		status, h, body := ts.do("GET", "/users?"+bad, "", "", "Authorization", "Bearer "+ts.adminToken())
		if status != 422 {
			t.Errorf("%s: %d %s", bad, status, body)
		} else {
			problemOf(t, h, body)
		}
	}
	user, _ := ts.newUser("plain@example.com")
	_, err = user.ListUsers(ctx, client.ListUsersParams{})
	wantStatus(t, err, 403)
	_, err = ts.anon.ListUsers(ctx, client.ListUsersParams{})
	wantStatus(t, err, 401)
}

func TestRoleChangeAndDeletionApplyToTheNextRequest(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	bob, bobID := ts.newUser("bob@example.com")
	if _, err := bob.Stats(ctx); !client.IsStatus(err, 403) {
		t.Fatalf("user reached admin stats: %v", err)
	}
	u, err := ts.admin.SetRole(ctx, bobID, api.RoleAdmin)
	if err != nil || u.Role != api.RoleAdmin {
		t.Fatalf("promote: %+v %v", u, err)
	}
	if _, err := bob.Stats(ctx); err != nil {
		t.Fatalf("promotion not applied to the next request: %v", err)
	}
	if _, err := ts.admin.SetRole(ctx, bobID, api.RoleUser); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Stats(ctx); !client.IsStatus(err, 403) {
		t.Fatalf("demotion not applied: %v", err)
	}
	_, err = ts.admin.SetRole(ctx, bobID, "superuser")
	wantStatus(t, err, 422)
	_, err = ts.admin.SetRole(ctx, "0192f0f0-0000-7000-8000-000000000000", api.RoleAdmin)
	wantStatus(t, err, 404)

	if err := ts.admin.DeleteUser(ctx, bobID); err != nil {
		t.Fatal(err)
	}
	_, err = bob.Me(ctx)
	wantStatus(t, err, 401)
	wantStatus(t, ts.admin.DeleteUser(ctx, bobID), 404)
	wantStatus(t, ts.admin.DeleteUser(ctx, ts.adminID), 409)

	// Its sign-in, two role changes and the deletion, naming both people.
	audit, err := ts.admin.Audit(ctx, client.AuditParams{Actor: ts.adminID})
	if err != nil || audit.Total != 4 {
		t.Fatalf("audit of the admin's actions: %+v %v", audit, err)
	}
	if audit.Items[0].Action != api.AuditUserDeleted || audit.Items[0].TargetID != bobID || audit.Items[0].RequestID == "" ||
		audit.Items[0].ActorEmail != testAdminEmail || audit.Items[0].TargetEmail != "bob@example.com" {
		t.Fatalf("newest audit entry: %+v", audit.Items[0])
	}
}

func TestTheLastAdminCannotBeDemoted(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	_, err := ts.admin.SetRole(context.Background(), ts.adminID, api.RoleUser)
	p := wantStatus(t, err, 409)
	if !strings.Contains(p.Detail, "admin") {
		t.Fatalf("detail %q", p.Detail)
	}
}

func TestAdminStatsHealthAndPurge(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	ts.register("s1@example.com", "password-1")
	_, pair := ts.loginPair("s1@example.com", "password-1")
	if _, err := ts.anon.Refresh(ctx, pair.RefreshToken); err != nil { // one rotated, one active
		t.Fatal(err)
	}
	_, other := ts.loginPair("s1@example.com", "password-1")
	if err := ts.anon.Logout(ctx, other.RefreshToken); err != nil { // one revoked
		t.Fatal(err)
	}
	st, err := ts.admin.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Users.Total != 2 || st.Users.ByRole.Admin != 1 || st.Users.ByRole.User != 1 {
		t.Errorf("users: %+v", st.Users)
	}
	// admin session (active) + s1: active, rotated, revoked
	if st.RefreshTokens.Active != 2 || st.RefreshTokens.Rotated != 1 || st.RefreshTokens.Revoked != 1 {
		t.Errorf("tokens: %+v", st.RefreshTokens)
	}
	if st.AI.ByModel == nil {
		t.Errorf("ai.by_model is null")
	}
	h, err := ts.admin.DBHealth(ctx)
	if err != nil || h.Status != "ok" || h.LatencyMS <= 0 || h.Engine != ts.engine || h.SchemaVersion < 3 {
		t.Fatalf("db health: %+v %v", h, err)
	}
	res, err := ts.admin.PurgeTokens(ctx)
	if err != nil || res.Purged != 1 {
		t.Fatalf("purge: %+v %v", res, err)
	}
	audit, _ := ts.admin.Audit(ctx, client.AuditParams{Action: api.AuditTokensPurged})
	if audit.Total != 1 || !strings.Contains(audit.Items[0].Detail, "1") {
		t.Fatalf("purge audit: %+v", audit)
	}
}

func TestEveryResponseCarriesARequestID(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	_, h, _ := ts.do("GET", "/healthz", "", "", "X-Request-ID", "trace-me-123")
	if h.Get("X-Request-ID") != "trace-me-123" {
		t.Fatalf("request id not echoed: %q", h.Get("X-Request-ID"))
	}
	status, h, body := ts.do("GET", "/no/such/path", "", "")
	if status != 404 || h.Get("X-Request-ID") == "" {
		t.Fatalf("404: %d %v", status, h)
	}
	problemOf(t, h, body)
	status, h, body = ts.do("PATCH", "/users/me", "", "")
	if status != 405 {
		t.Fatalf("405: %d %s", status, body)
	}
	problemOf(t, h, body)
}

func TestCORSAllowsOnlyConfiguredOrigins(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, map[string]string{"CORS_ORIGINS": "https://app.example.com"})
	_, h, _ := ts.do("GET", "/healthz", "", "", "Origin", "https://app.example.com")
	if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("allowed origin: %v", h)
	}
	_, h, _ = ts.do("GET", "/healthz", "", "", "Origin", "https://evil.example.com")
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin allowed: %v", h)
	}
	status, h, _ := ts.do("OPTIONS", "/users/me", "", "", "Origin", "https://app.example.com", "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "authorization,content-type")
	if status != 204 || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("preflight: %d %v", status, h)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	if h, err := ts.anon.Readyz(ctx); err != nil || h.Status != "ok" || h.Checks[ts.engine] != "ok" || h.Checks["schema"] == "" {
		t.Fatalf("readyz: %+v %v", h, err)
	}
	ts.do("GET", "/users/me", "", "")
	status, _, body := ts.do("GET", "/metrics", "", "")
	pool := `go_sql_open_connections{db_name="duckdb"}`
	if ts.engine == "postgres" {
		pool = `pgxpool_total_conns{db_name="postgres"}`
	}
	for _, want := range []string{`http_requests_total{method="GET",route="/users/me",status="401"}`, "http_request_duration_seconds_bucket", pool,
		`duckgate_background_leader{job="token-purge"} 1`} {
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	status, h, body := ts.do("GET", "/docs", "", "")
	if status != 200 || !strings.Contains(h.Get("Content-Type"), "text/html") || !strings.Contains(body, "<script") {
		t.Fatalf("docs: %d %s", status, h.Get("Content-Type"))
	}
	status, _, body = ts.do("GET", "/openapi.json", "", "")
	if status != 200 || !strings.Contains(body, `"openapi": "3.1`) && !strings.Contains(body, `"openapi":"3.1`) {
		t.Fatalf("openapi.json: %d %.100s", status, body)
	}
}

// adminToken signs the admin in again and returns the raw access token.
func (ts *testServer) adminToken() string {
	_, pair := ts.loginPair(testAdminEmail, testAdminPassword)
	return pair.AccessToken
}
