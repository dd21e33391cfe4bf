package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
)

// The binaries under test and where each is built from (module directory,
// package), relative to the repository root.
var sources = map[string][2]string{
	"backend":         {"backend", "./cmd/backend"},
	"frontend":        {"frontend", "./cmd/frontend"},
	"fake-openrouter": {"backend", "./cmd/fake-openrouter"},
}

// buildBinary builds one binary into dir, unless prebuilt names one.
func buildBinary(ctx context.Context, repo, dir, name, prebuilt string) (string, error) {
	if prebuilt != "" {
		// Absolute, because the servers run in their data directories.
		path, err := filepath.Abs(prebuilt)
		if err != nil {
			return "", fmt.Errorf("%s binary: %w", name, err)
		}
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%s binary: %w", name, err)
		}
		return path, nil
	}
	src := sources[name]
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, src[1])
	cmd.Dir = filepath.Join(repo, src[0])
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", name, err, tailLines(string(msg), 15))
	}
	return out, nil
}

// findRepo walks up from dir to the directory holding go.work and backend/.
func findRepo(dir string) (string, error) {
	for {
		if fileExists(filepath.Join(dir, "go.work")) && fileExists(filepath.Join(dir, "backend", "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no duckgate checkout (go.work + backend/) above the working directory; pass -repo")
		}
		dir = parent
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// proc is one running server.
type proc struct {
	name    string
	bin     string
	addr    string // 127.0.0.1:port
	url     string // http://addr
	dir     string // working directory
	env     []string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// newProc describes a server; start runs it.
func newProc(name, bin, dir, addr string, env []string) *proc {
	return &proc{name: name, bin: bin, addr: addr, url: "http://" + addr, dir: dir, env: env,
		logPath: filepath.Join(dir, name+".log")}
}

// start execs the binary with a minimal environment plus p.env, logging
// to p.logPath (appending across restarts).
func (p *proc) start() error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s log: %w", p.name, err)
	}
	cmd := exec.Command(p.bin)
	cmd.Dir = p.dir
	cmd.Env = append(minimalEnv(), p.env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// waitHTTP polls path every 2ms until it answers 200; it fails after
// timeout, or at once when the process exits.
func (p *proc) waitHTTP(ctx context.Context, path string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: load.NewTransport(1)}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before %s answered 200; log:\n%s", p.name, path, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s not 200 within %s; log:\n%s", p.name, path, timeout, p.logTail())
		}
	}
}

// startAndWait starts the process and waits for path to answer 200;
// it returns the time from exec to that answer.
func (p *proc) startAndWait(ctx context.Context, path string, timeout time.Duration) (time.Duration, error) {
	began := time.Now()
	if err := p.start(); err != nil {
		return 0, err
	}
	if err := p.waitHTTP(ctx, path, timeout); err != nil {
		p.kill()
		return 0, err
	}
	return time.Since(began), nil
}

// kill SIGKILLs the process and waits for it to be gone.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop asks for a graceful shutdown (SIGTERM), killing after 10s.
func (p *proc) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

func (p *proc) running() bool {
	if p == nil || p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *proc) logTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tailLines(string(data), 15)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// minimalEnv keeps what a process needs from ours without leaking the
// operator's own duckgate configuration into the servers under test.
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
