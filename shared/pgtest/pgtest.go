// Package pgtest starts throwaway PostgreSQL servers for tests and
// benchmarks: a fresh cluster (initdb) in a temporary directory, listening
// on a free loopback port, owned by the process that started it and stopped
// by it. Nothing relies on a system service: the server binaries (initdb,
// postgres, psql) are found on PATH or under /usr/lib/postgresql/*/bin
// (Debian's layout; `make test-deps` installs them there when missing).
//
// It lives in shared because three modules use it (the backend's store
// and API tests, e2e and the load tool) and none may import another's
// internal packages. It needs nothing but the standard library: databases
// are created through psql.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// SkipEnv names the variable that, set to 1, lets tests skip instead of
// failing when no PostgreSQL server binaries are installed.
const SkipEnv = "DUCKGATE_SKIP_POSTGRES"

// ErrNoBinaries means initdb and postgres were found nowhere.
var ErrNoBinaries = errors.New("pgtest: PostgreSQL server binaries (initdb, postgres, psql) not found on PATH or in /usr/lib/postgresql/*/bin; install Debian's postgresql package (make test-deps does)")

// BinDir finds the directory holding initdb, postgres and psql: the one of
// initdb on PATH (resolving symlinks, since Debian links only some of them
// into /usr/bin), else the newest /usr/lib/postgresql/N/bin.
func BinDir() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versions, func(i, j int) bool { return pgVersion(versions[i]) > pgVersion(versions[j]) })
	candidates = append(candidates, versions...)
	for _, dir := range candidates {
		if hasAll(dir, "initdb", "postgres", "psql") {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func hasAll(dir string, names ...string) bool {
	for _, n := range names {
		if st, err := os.Stat(filepath.Join(dir, n)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

// Options tune a server.
type Options struct {
	// Settings are passed to postgres as -c name=value, over the defaults
	// (max_connections=300, for many pools at once; everything else is
	// PostgreSQL's default, fsync and synchronous_commit on).
	Settings map[string]string
}

// Server is a running throwaway cluster.
type Server struct {
	Port  int
	dir   string
	bin   string
	cred  *syscall.Credential
	cmd   *exec.Cmd
	done  chan struct{}
	dbSeq atomic.Int64
}

// Start creates a cluster in a new temporary directory and starts it on a
// free loopback port. The superuser is "postgres", trusted on loopback
// only (the server listens on 127.0.0.1 and no Unix socket).
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "duckgate-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir, bin: bin, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()
	// initdb and postgres refuse to run as root: drop to an unprivileged
	// user that owns the cluster's directory.
	if os.Geteuid() == 0 {
		if s.cred, err = unprivileged(); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.command(ctx, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-instructions").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	if s.Port, err = freePort(); err != nil {
		return nil, err
	}
	settings := map[string]string{"max_connections": "300"}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	args := []string{"-D", data, "-c", "listen_addresses=127.0.0.1", "-c", "port=" + strconv.Itoa(s.Port),
		"-c", "unix_socket_directories="}
	for k, v := range settings {
		args = append(args, "-c", k+"="+v)
	}
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer logFile.Close() // the child holds its own copy
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// The server dies with the process that started it, even on SIGKILL.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	ok = true
	return s, nil
}

// unprivileged is the "postgres" user when the system has one, else nobody.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("pgtest: running as root and found neither a postgres nor a nobody user to run the server as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *Server) waitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("pgtest: postgres exited during start-up:\n%s", s.Log())
		default:
		}
		if _, last = s.SQL(ctx, "postgres", "SELECT 1"); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pgtest: postgres not ready after %s: %v\n%s", within, last, s.Log())
}

// URL is the connection URL of database db.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// SQL runs statements in database db through psql and returns what they
// printed (unaligned, tuples only).
func (s *Server) SQL(ctx context.Context, db, sql string) (string, error) {
	var out, stderr bytes.Buffer
	cmd := s.command(ctx, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres", "-d", db, "-c", sql)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("pgtest: psql %q: %w: %s", sql, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// CreateDatabase creates a new, empty database with a fresh name and
// returns its name.
func (s *Server) CreateDatabase(ctx context.Context, prefix string) (string, error) {
	name := fmt.Sprintf("%s_%d_%d", sanitize(prefix), os.Getpid(), s.dbSeq.Add(1))
	if _, err := s.SQL(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return name, nil
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	out := b.String()
	if out == "" || (out[0] >= '0' && out[0] <= '9') {
		out = "db_" + out
	}
	if len(out) > 40 {
		out = out[:40]
	}
	return out
}

// Log is what the server wrote to its log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	return string(b)
}

// Stop shuts the server down (fast shutdown: open sessions are ended) and
// removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	_ = os.RemoveAll(s.dir)
}

// Lazy starts one server on first use and shares it; a test binary's
// TestMain stops it after the tests ran:
//
//	var pg pgtest.Lazy
//	func TestMain(m *testing.M) { code := m.Run(); pg.Stop(); os.Exit(code) }
type Lazy struct {
	Options Options
	once    sync.Once
	srv     *Server
	err     error
}

// Server starts the server on the first call and returns it.
func (l *Lazy) Server() (*Server, error) {
	l.once.Do(func() { l.srv, l.err = Start(context.Background(), l.Options) })
	return l.srv, l.err
}

// Stop stops the server if it was started.
func (l *Lazy) Stop() {
	if l.srv != nil {
		l.srv.Stop()
	}
}

// TB is the part of testing.TB this package uses (so it does not import
// package testing into the programs that use Server alone).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
}

// Database creates a fresh database on the shared server for one test and
// returns its URL. Without server binaries the test fails, or skips when
// DUCKGATE_SKIP_POSTGRES=1. Databases are not dropped after their test:
// DROP DATABASE forces a checkpoint, which with fsync on cost a suite of
// a hundred tests two minutes of waiting; the whole cluster goes at Stop.
func (l *Lazy) Database(t TB) string {
	t.Helper()
	srv := l.Require(t)
	name, err := srv.CreateDatabase(context.Background(), "test")
	if err != nil {
		t.Fatalf("%v", err)
	}
	return srv.URL(name)
}

// Require returns the shared server, failing (or skipping, see SkipEnv)
// the test when it cannot start.
func (l *Lazy) Require(t TB) *Server {
	t.Helper()
	srv, err := l.Server()
	if err != nil {
		if errors.Is(err, ErrNoBinaries) && os.Getenv(SkipEnv) == "1" {
			t.Skipf("%v", err)
		}
		t.Fatalf("%v", err)
	}
	return srv
}
