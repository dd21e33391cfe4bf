// Package e2e starts the real binaries — backend, frontend and the fake
// OpenRouter — on loopback and drives them from the outside, the way
// operators, integrators and browsers do. Every test here builds the
// binaries once per test process and gives each server its own data
// directory and port.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/pgtest"
)

// The bootstrap admin every StartBackend creates.
const (
	AdminEmail    = "admin@example.com"
	AdminPassword = "admin-password-e2e"
	FakeKey       = "fake-key"
)

// binaries maps a binary name to the module directory and package it is
// built from, relative to the repository root.
var binaries = map[string][2]string{
	"backend":         {"backend", "./cmd/backend"},
	"frontend":        {"frontend", "./cmd/frontend"},
	"fake-openrouter": {"backend", "./cmd/fake-openrouter"},
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*buildResult{}
	buildDir string
)

// RepoRoot is the checkout's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// Binary builds the named binary once per test process and returns its path.
func Binary(t testing.TB, name string) string {
	t.Helper()
	src, ok := binaries[name]
	if !ok {
		t.Fatalf("e2e: unknown binary %q", name)
	}
	buildsMu.Lock()
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "duckgate-e2e-bin-")
		if err != nil {
			buildsMu.Unlock()
			t.Fatal(err)
		}
		buildDir = dir
	}
	b := builds[name]
	if b == nil {
		b = &buildResult{}
		builds[name] = b
	}
	dir := buildDir
	buildsMu.Unlock()

	b.once.Do(func() {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, src[1])
		cmd.Dir = filepath.Join(RepoRoot(), src[0])
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", name, err, msg)
			return
		}
		b.path = out
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Proc is a running binary.
type Proc struct {
	Name string
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port
	Dir  string // its data directory (backend) or working directory
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartFake starts the fake OpenRouter (key FakeKey).
func StartFake(t testing.TB, env ...string) *Proc {
	t.Helper()
	addr := FreeAddr(t)
	base := []string{"FAKE_OPENROUTER_ADDR=" + addr, "FAKE_OPENROUTER_KEY=" + FakeKey}
	p := start(t, "fake-openrouter", t.TempDir(), addr, append(base, env...))
	p.waitHTTP(t, "/api/v1/models", "Bearer "+FakeKey)
	return p
}

// FakeBaseURL is the OpenRouter base URL of a running fake.
func (p *Proc) FakeBaseURL() string { return p.URL + "/api/v1" }

// BackendEnv is the environment StartBackend gives a backend using dataDir;
// later entries of env override it.
func BackendEnv(dataDir, addr string, env ...string) []string {
	base := []string{
		"BACKEND_ADDR=" + addr,
		"DUCKDB_PATH=" + filepath.Join(dataDir, "app.duckdb"),
		"JWT_KEY_FILE=" + filepath.Join(dataDir, "jwt-ed25519.pem"),
		"JWT_ISSUER=http://duckgate.test", // stable across restarts on new ports
		"ADMIN_EMAIL=" + AdminEmail,
		"ADMIN_PASSWORD=" + AdminPassword,
	}
	return append(base, env...)
}

// StartBackend starts the backend on dataDir (reused across restarts) and
// waits until it is ready.
func StartBackend(t testing.TB, dataDir string, env ...string) *Proc {
	t.Helper()
	addr := FreeAddr(t)
	p := start(t, "backend", dataDir, addr, BackendEnv(dataDir, addr, env...))
	p.waitHTTP(t, "/readyz", "")
	return p
}

// Postgres is this test process's throwaway PostgreSQL server, started by
// the first test that asks for a database and stopped by TestMain.
var Postgres pgtest.Lazy

// PostgresDatabase creates an empty database for t and returns its URL.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	return Postgres.Database(t)
}

// StartReplicas starts n backends at once on one PostgreSQL database,
// sharing dataDir (so one signing key) and env, and waits until all are
// ready. Starting them together exercises the migration and bootstrap
// locks.
func StartReplicas(t testing.TB, n int, databaseURL, dataDir string, env ...string) []*Proc {
	t.Helper()
	procs := make([]*Proc, n)
	for i := range procs {
		addr := FreeAddr(t)
		e := BackendEnv(dataDir, addr, append([]string{"DATABASE_URL=" + databaseURL}, env...)...)
		procs[i] = start(t, "backend", dataDir, addr, e)
	}
	for _, p := range procs {
		p.waitHTTP(t, "/readyz", "")
	}
	return procs
}

// StartFrontend starts the frontend in front of backendURL.
func StartFrontend(t testing.TB, backendURL string, env ...string) *Proc {
	t.Helper()
	return StartFrontendAt(t, FreeAddr(t), backendURL, env...)
}

// StartFrontendAt starts the frontend on addr (from FreeAddr), for a test
// that must tell the backend the frontend's address first (PUBLIC_URL,
// the links in mail).
func StartFrontendAt(t testing.TB, addr, backendURL string, env ...string) *Proc {
	t.Helper()
	base := []string{"FRONTEND_ADDR=" + addr, "BACKEND_URL=" + backendURL}
	p := start(t, "frontend", t.TempDir(), addr, append(base, env...))
	p.waitHTTP(t, "/healthz", "")
	return p
}

func start(t testing.TB, name, dir, addr string, env []string) *Proc {
	t.Helper()
	bin := Binary(t, name)
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(minimalEnv(), env...)
	logs := &syncBuffer{}
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Name: name, URL: "http://" + addr, Addr: addr, Dir: dir, cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill(t)
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, tail(p.Logs(), 4000))
		}
	})
	return p
}

// minimalEnv keeps what a process needs from the test's environment without
// leaking the developer's own configuration into the servers.
func minimalEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		for _, keep := range []string{"PATH=", "HOME=", "TMPDIR=", "LANG="} {
			if strings.HasPrefix(kv, keep) {
				env = append(env, kv)
			}
		}
	}
	return env
}

// httpClient makes the harness's probes and the tests' direct calls to the
// servers (not http.DefaultClient).
var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}

func (p *Proc) waitHTTP(t testing.TB, path, auth string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("%s exited during start-up:\n%s", p.Name, tail(p.Logs(), 4000))
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, p.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := httpClient.Do(req.WithContext(ctx))
		if err == nil {
			resp.Body.Close()
			cancel()
			if resp.StatusCode == http.StatusOK {
				return
			}
		} else {
			cancel()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s%s after 30s:\n%s", p.Name, p.URL, path, tail(p.Logs(), 4000))
}

// Stop sends SIGTERM and waits for a graceful exit.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 15s of SIGTERM", p.Name)
	}
}

// Kill ends the process with SIGKILL, as a crash would.
func (p *Proc) Kill(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Exited reports whether the process has ended, and its exit code.
func (p *Proc) Exited() (bool, int) {
	select {
	case <-p.done:
		return true, p.cmd.ProcessState.ExitCode()
	default:
		return false, 0
	}
}

// PID is the process id, for reading its resource use.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Logs is everything the process printed so far.
func (p *Proc) Logs() string { return p.logs.String() }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
