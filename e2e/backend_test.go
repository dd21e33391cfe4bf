package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// session is one acknowledged sign-in: the user and the newest refresh token
// the backend handed out for it.
type session struct {
	email, password, refresh string
}

// burst registers and signs in n users concurrently and refreshes each
// session once, returning only what the backend acknowledged.
func burst(t *testing.T, c *client.Client, prefix string, n int) []session {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var out []session
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := session{email: fmt.Sprintf("%s-%d@example.com", prefix, i), password: "password-" + prefix}
			if _, err := c.Register(ctx, api.RegisterRequest{Email: s.email, Password: s.password}); err != nil {
				t.Errorf("register: %v", err)
				return
			}
			pair, err := c.Login(ctx, api.LoginRequest{Email: s.email, Password: s.password})
			if err != nil {
				t.Errorf("login: %v", err)
				return
			}
			if pair, err = c.Refresh(ctx, pair.RefreshToken); err != nil {
				t.Errorf("refresh: %v", err)
				return
			}
			s.refresh = pair.RefreshToken
			mu.Lock()
			out = append(out, s)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// TestNothingAcknowledgedIsLostToSIGKILL kills the backend right after a
// burst of acknowledged registrations, logins and refreshes, restarts it on
// the same file and finds every user and every session.
func TestNothingAcknowledgedIsLostToSIGKILL(t *testing.T) {
	dir := t.TempDir()
	b := StartBackend(t, dir)
	sessions := burst(t, client.New(b.URL), "kill", 60)
	b.Kill(t)

	b = StartBackend(t, dir)
	c := client.New(b.URL)
	ctx := context.Background()
	for _, s := range sessions {
		if _, err := c.Refresh(ctx, s.refresh); err != nil {
			t.Errorf("session of %s lost: %v", s.email, err)
		}
	}
	admin := signIn(t, c, AdminEmail, AdminPassword)
	list, err := admin.ListUsers(ctx, client.ListUsersParams{Query: "kill-", Limit: 200})
	if err != nil || list.Total != len(sessions) {
		t.Fatalf("users after SIGKILL: %d of %d (%v)", list.Total, len(sessions), err)
	}
}

func TestRestartKeepsUsersKeysAndSessions(t *testing.T) {
	dir := t.TempDir()
	b := StartBackend(t, dir)
	c := client.New(b.URL)
	ctx := context.Background()
	sessions := burst(t, c, "restart", 5)
	pair, err := c.Login(ctx, api.LoginRequest{Email: sessions[0].email, Password: sessions[0].password})
	if err != nil {
		t.Fatal(err)
	}
	b.Stop(t)
	if exited, code := b.Exited(); !exited || code != 0 {
		t.Fatalf("SIGTERM exit: %v %d\n%s", exited, code, b.Logs())
	}

	b = StartBackend(t, dir)
	c = client.New(b.URL)
	// The signing key survived, and so did the session the token names.
	if _, err := c.WithToken(pair.AccessToken).Me(ctx); err != nil {
		t.Fatalf("access token from before the restart: %v", err)
	}
	if strings.Count(b.Logs(), "created initial admin") != 0 {
		t.Fatalf("admin created again on restart:\n%s", b.Logs())
	}
}

// TestGracefulShutdownFinishesInFlightRequests sends SIGTERM while sign-ins
// (each a ~30 ms password hash, two at a time) are queued in the backend:
// 40 of them need well over a second, and the signal comes after 300 ms,
// when every connection has long been accepted.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	b := StartBackend(t, t.TempDir())
	c := client.New(b.URL)
	ctx := context.Background()
	if _, err := c.Register(ctx, api.RegisterRequest{Email: "term@example.com", Password: "term-password"}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := c.Login(ctx, api.LoginRequest{Email: "term@example.com", Password: "term-password"})
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond)
	b.Stop(t)
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("in-flight login failed during shutdown: %v", err)
		}
	}
}

func TestFirstStartPrintsTheInitialAdminOnce(t *testing.T) {
	dir := t.TempDir()
	addr := FreeAddr(t)
	env := BackendEnv(dir, addr, "ADMIN_EMAIL=", "ADMIN_PASSWORD=")
	p := start(t, "backend", dir, addr, env)
	p.waitHTTP(t, "/readyz", "")
	logs := p.Logs()
	if !strings.Contains(logs, `"msg":"created initial admin"`) || !strings.Contains(logs, `"email":"admin@localhost"`) {
		t.Fatalf("no initial admin record:\n%s", logs)
	}
	var password string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "created initial admin") {
			i := strings.Index(line, `"password":"`) + len(`"password":"`)
			password = line[i : i+strings.IndexByte(line[i:], '"')]
		}
	}
	signIn(t, client.New(p.URL), "admin@localhost", password)
	p.Stop(t)
	p = start(t, "backend", dir, addr, env)
	p.waitHTTP(t, "/readyz", "")
	if strings.Contains(p.Logs(), "created initial admin") {
		t.Fatal("initial admin printed again")
	}
}

func TestInvalidConfigurationStopsStartUp(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(Binary(t, "backend"))
	cmd.Dir = dir
	cmd.Env = append(minimalEnv(), "ACCESS_TOKEN_TTL=soon", "MAX_BODY_BYTES=lots")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started with an invalid configuration:\n%s", out)
	}
	for _, want := range []string{"ACCESS_TOKEN_TTL", "MAX_BODY_BYTES", "invalid configuration"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("message lacks %s:\n%s", want, out)
		}
	}
}

func TestOperatorCommandsWorkOnAStoppedBackend(t *testing.T) {
	dir := t.TempDir()
	env := append(minimalEnv(), BackendEnv(dir, FreeAddr(t))...)
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(Binary(t, "backend"), args...)
		cmd.Dir = dir
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("", "migrate"); err != nil || !strings.Contains(out, "schema version") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := run("ops-password\n", "user", "create", "--email", "Ops@Example.com", "--password-stdin", "--admin"); err != nil || !strings.Contains(out, "created admin ops@example.com") {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if out, err := run("x\n", "user", "create", "--email", "ops@example.com", "--password-stdin"); err == nil {
		t.Fatalf("short password accepted:\n%s", out)
	}
	if out, err := run("", "user", "create", "--email", "a@example.com", "--password", "on-the-command-line"); err == nil {
		t.Fatalf("password on the command line accepted:\n%s", out)
	}
	if out, err := run("", "user", "set-role", "--email", "ops@example.com", "--role", "user"); err == nil || !strings.Contains(out, "without an admin") {
		t.Fatalf("demoting the only admin: %v\n%s", err, out)
	}
	if out, err := run("dev-password\n", "user", "create", "--email", "dev@example.com", "--password-stdin"); err != nil || !strings.Contains(out, "created user dev@example.com") {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if out, err := run("", "user", "set-role", "--email", "dev@example.com", "--role", "admin"); err != nil || !strings.Contains(out, "is now admin") {
		t.Fatalf("set-role: %v\n%s", err, out)
	}
	if out, err := run("", "user", "set-role", "--email", "ops@example.com", "--role", "user"); err != nil || !strings.Contains(out, "is now user") {
		t.Fatalf("set-role: %v\n%s", err, out)
	}
	if out, err := run("", "user", "set-role", "--email", "nobody@example.com", "--role", "admin"); err == nil {
		t.Fatalf("set-role of an unknown user succeeded:\n%s", out)
	}

	b := StartBackend(t, dir)
	c := signIn(t, client.New(b.URL), "ops@example.com", "ops-password")
	if me, err := c.Me(context.Background()); err != nil || me.Role != api.RoleUser {
		t.Fatalf("operator-made user: %+v %v", me, err)
	}
	// While it runs, the database file is locked: the commands say why.
	if out, err := run("", "user", "set-role", "--email", "ops@example.com", "--role", "admin"); err == nil || !strings.Contains(out, "stop it first") {
		t.Fatalf("set-role against a running backend: %v\n%s", err, out)
	}
	if out, err := run("", "version"); err != nil || !strings.HasPrefix(out, "backend ") {
		t.Fatalf("version: %v %s", err, out)
	}
}

func signIn(t *testing.T, c *client.Client, email, password string) *client.Client {
	t.Helper()
	pair, err := c.Login(context.Background(), api.LoginRequest{Email: email, Password: password})
	if err != nil {
		t.Fatalf("sign in %s: %v", email, err)
	}
	return c.WithToken(pair.AccessToken)
}
