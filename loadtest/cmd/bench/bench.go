package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
)

// Accounts and settings the harness gives the servers.
const (
	adminEmail    = "bench-admin@example.com"
	adminPassword = "bench-admin-password"
	fakeKey       = "fake-key"
	// fakeChunkDelay is the fake's fixed pause between streamed chunks, the
	// reference the forwarding gaps are compared with.
	fakeChunkDelay = 20 * time.Millisecond
	// benchUsers is how many accounts the token scenarios spread over.
	benchUsers = 50
	// compareRounds is how many times a comparison alternates between its
	// baseline and the measured path.
	compareRounds = 5
)

// bench holds the running system and what scenarios share.
type bench struct {
	cfg      config
	progress io.Writer
	workDir  string
	bins     map[string]string // name → path; frontend absent if it did not build
	buildErr map[string]error
	fake     *proc
	backend  *proc
	floors   map[string]*proc // do-nothing proxies of the floor rows, by upstream
	// client serves setup calls and small checks.
	client *http.Client

	users      []*user
	healthzRPS *load.Result
	pg         *pgState // the PostgreSQL scenarios' server and replicas
	gateway    *gatewayState
	front      *frontendState
}

// newBench builds the binaries and starts the fake OpenRouter and the
// backend on a fresh data directory.
func newBench(ctx context.Context, cfg config, progress io.Writer) (*bench, error) {
	repo := cfg.repo
	if repo == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		if repo, err = findRepo(wd); err != nil {
			return nil, err
		}
	}
	workDir, err := os.MkdirTemp("", "duckgate-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	b := &bench{cfg: cfg, progress: progress, workDir: workDir, bins: map[string]string{},
		buildErr: map[string]error{}, client: load.NewClient(64)}
	if err := b.build(ctx, repo); err != nil {
		b.close()
		return nil, err
	}
	if err := b.startServers(ctx); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

// build builds the three binaries; only the frontend may fail (its
// scenarios are then skipped).
func (b *bench) build(ctx context.Context, repo string) error {
	binDir := filepath.Join(b.workDir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	prebuilt := map[string]string{"backend": b.cfg.backendBin, "frontend": b.cfg.frontendBin,
		"fake-openrouter": b.cfg.fakeBin}
	for _, name := range []string{"backend", "fake-openrouter", "frontend"} {
		b.logf("building %s", name)
		path, err := buildBinary(ctx, repo, binDir, name, prebuilt[name])
		if err != nil {
			if name != "frontend" {
				return err
			}
			b.buildErr[name] = err
			continue
		}
		b.bins[name] = path
	}
	return nil
}

// startServers starts the fake and, pointed at it, the backend.
func (b *bench) startServers(ctx context.Context) error {
	fakeAddr, err := freeAddr()
	if err != nil {
		return err
	}
	fakeDir := filepath.Join(b.workDir, "fake")
	if err := os.MkdirAll(fakeDir, 0o755); err != nil {
		return err
	}
	b.fake = newProc("fake-openrouter", b.bins["fake-openrouter"], fakeDir, fakeAddr, []string{
		"FAKE_OPENROUTER_ADDR=" + fakeAddr, "FAKE_OPENROUTER_KEY=" + fakeKey,
		"FAKE_OPENROUTER_CHUNK_DELAY=" + fakeChunkDelay.String()})
	// The fake's control endpoints need no key: a 200 there means it is up.
	if _, err := b.fake.startAndWait(ctx, "/_fake/requests", 10*time.Second); err != nil {
		return err
	}

	backendAddr, err := freeAddr()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(b.workDir, "backend")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	b.backend = newProc("backend", b.bins["backend"], dataDir, backendAddr, []string{
		"BACKEND_ADDR=" + backendAddr,
		"DUCKDB_PATH=" + filepath.Join(dataDir, "app.duckdb"),
		"JWT_KEY_FILE=" + filepath.Join(dataDir, "jwt-ed25519.pem"),
		"JWT_ISSUER=http://" + backendAddr,
		"ADMIN_EMAIL=" + adminEmail, "ADMIN_PASSWORD=" + adminPassword,
		"OPENROUTER_BASE_URL=" + b.fake.url + "/api/v1", "OPENROUTER_API_KEY=" + fakeKey,
		// The chat scenarios send thousands of calls a minute per user.
		"AI_REQUESTS_PER_MINUTE=0",
	})
	b.logf("starting backend on %s (data in %s)", backendAddr, dataDir)
	if _, err := b.backend.startAndWait(ctx, "/readyz", 30*time.Second); err != nil {
		return err
	}
	return nil
}

// close stops every server and removes the temporary directory.
func (b *bench) close() {
	procs := []*proc{b.frontendProc()}
	for _, p := range b.floors {
		procs = append(procs, p)
	}
	for _, p := range append(procs, b.backend, b.fake) {
		if p.running() {
			p.stop()
		}
	}
	b.closePostgres()
	if b.cfg.keep {
		b.logf("kept %s", b.workDir)
		return
	}
	_ = os.RemoveAll(b.workDir)
}

func (b *bench) frontendProc() *proc {
	if b.front == nil || b.front.proc == nil {
		return nil
	}
	return b.front.proc
}

// scenario is one named measurement; it yields one or more rows, named
// by rowNames too so -only can select them.
type scenario struct {
	name     string
	rowNames []string
	run      func(ctx context.Context) []row
}

func (b *bench) scenarios() []scenario {
	return []scenario{
		{name: "healthz", run: b.runHealthz},
		{name: "users-me", run: b.runUsersMe},
		{name: "refresh", rowNames: []string{"refresh-durability"}, run: b.runRefresh},
		{name: "login", run: b.runLogin},
		{name: "login-burst", run: b.runLoginBurst},
		{name: "startup", rowNames: []string{"idle-rss"}, run: b.runStartup},
		{name: "pg-users-me", run: b.runPGUsersMe},
		{name: "pg-refresh", rowNames: []string{"pg-refresh-kill"}, run: b.runPGRefresh},
		{name: "pg-login", run: b.runPGLogin},
		{name: "chat-latency", rowNames: []string{"floor-latency"}, run: b.runChatLatency},
		{name: "chat-throughput", rowNames: []string{"floor-throughput"}, run: b.runChatThroughput},
		{name: "chat-stream", rowNames: []string{"floor-stream", "chat-stream-gap"}, run: b.runChatStream},
		{name: "chat-streams-500", run: b.runChatStreams500},
		{name: "v1-chat-latency", run: b.runV1Latency},
		{name: "v1-chat-throughput", run: b.runV1Throughput},
		{name: "v1-chat-stream", run: b.runV1Stream},
		{name: "apikey-vs-jwt", run: b.runAPIKeyVsJWT},
		{name: "frontend-idle-rss", run: b.runFrontendIdleRSS},
		{name: "proxy-overhead", run: b.runProxyOverhead},
		{name: "proxy-stream", rowNames: []string{"floor-proxy-stream"}, run: b.runProxyStream},
		{name: "proxy-streams-1000", run: b.runProxyStreams1000},
		{name: "page-render", rowNames: []string{"page-render-chat", "page-render-admin"}, run: b.runPageRender},
		{name: "page-weight", run: b.runPageWeight},
	}
}

// scenarioNames lists every row name, for -list.
func scenarioNames() []string {
	var names []string
	for _, s := range (&bench{}).scenarios() {
		names = append(names, s.name)
		names = append(names, s.rowNames...)
	}
	return names
}

func (s scenario) selected(cfg config) bool {
	if cfg.only.MatchString(s.name) {
		return true
	}
	for _, n := range s.rowNames {
		if cfg.only.MatchString(n) {
			return true
		}
	}
	return false
}

// runAll runs the selected scenarios in order. A scenario that cannot run
// becomes an error row; the rest still run, as long as the backend lives.
func (b *bench) runAll(ctx context.Context) []row {
	var rows []row
	for _, s := range b.scenarios() {
		if !s.selected(b.cfg) {
			continue
		}
		if ctx.Err() != nil {
			rows = append(rows, errorRow(s.name, ctx.Err()))
			continue
		}
		if !b.backend.running() {
			rows = append(rows, errorRow(s.name, fmt.Errorf("backend is not running; log:\n%s", b.backend.logTail())))
			continue
		}
		b.logf("== %s", s.name)
		began := time.Now()
		rows = append(rows, s.run(ctx)...)
		b.logf("   %s took %s", s.name, time.Since(began).Round(time.Millisecond))
		runtime.GC() // the harness's own garbage should not weigh on the next scenario
	}
	return rows
}

// options are the closed-loop settings of a timed scenario.
func (b *bench) options(connections int) load.Options {
	return load.Options{Connections: connections, Duration: b.cfg.duration, WarmUp: b.cfg.duration / 5,
		Timeout: 30 * time.Second}
}

// ensureUsers creates the bench accounts once.
func (b *bench) ensureUsers(ctx context.Context) ([]*user, error) {
	if b.users != nil {
		return b.users, nil
	}
	b.logf("creating %d users", benchUsers)
	users, err := createUsers(ctx, b.client, b.backend.url, benchUsers)
	if err != nil {
		return nil, err
	}
	b.users = users
	return users, nil
}

// healthzBaseline measures GET /healthz at 50 connections once; the
// scenarios of issue 2 compare with it.
func (b *bench) healthzBaseline(ctx context.Context) load.Result {
	if b.healthzRPS == nil {
		res := load.Run(ctx, b.options(50), func(int) load.Worker { return getWith(b.backend.url+"/healthz", "") })
		b.healthzRPS = &res
	}
	return *b.healthzRPS
}
