package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeBlock is one fenced code block of the README.
type readmeBlock struct {
	line int
	info string // the fence's info string: go, sh, json, …
	code string
}

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	var out []readmeBlock
	var cur *readmeBlock
	for i, line := range strings.Split(readRepoFile(t, "README.md"), "\n") {
		if !strings.HasPrefix(line, "```") {
			if cur != nil {
				cur.code += line + "\n"
			}
			continue
		}
		if cur != nil {
			out = append(out, *cur)
			cur = nil
			continue
		}
		cur = &readmeBlock{line: i + 1, info: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
	}
	if cur != nil {
		t.Fatalf("README: the block at line %d is never closed", cur.line)
	}
	return out
}

// The kinds of shell examples: talking to the API (run against a started
// backend), making a module that uses the Go client (run, then the Go
// examples are built in it), and operating the system with tools a test
// cannot run for real (run with stand-ins that check their arguments).
func shellKind(code string) string {
	switch {
	case strings.Contains(code, "go mod init"):
		return "module"
	case strings.Contains(code, "$B"):
		return "api"
	}
	return "operations"
}

// TestEveryREADMEExampleWorks compiles every Go example of the README and
// runs every shell example: the API calls against a started backend (on
// the OpenRouter simulator), in order, in one shell, failing on the first
// HTTP error; the module set-up in a temporary directory beside a checkout,
// where the Go examples must then build; and the operator commands with
// stand-ins for git, make, docker and kubectl that check what they are
// asked (files, targets and services that exist). Blocks that are not code
// (output, diagrams) are named here; any other block fails the test.
func TestEveryREADMEExampleWorks(t *testing.T) {
	var goBlocks, apiBlocks, moduleBlocks, opsBlocks []readmeBlock
	for _, b := range readmeBlocks(t) {
		switch b.info {
		case "go":
			goBlocks = append(goBlocks, b)
		case "sh":
			switch shellKind(b.code) {
			case "api":
				apiBlocks = append(apiBlocks, b)
			case "module":
				moduleBlocks = append(moduleBlocks, b)
			default:
				opsBlocks = append(opsBlocks, b)
			}
		case "json", "":
			// A log line and text diagrams: not code.
		default:
			t.Errorf("README line %d: a %q block, which this test does not know how to check", b.line, b.info)
		}
	}
	if len(goBlocks) < 2 || len(apiBlocks) < 4 || len(moduleBlocks) != 1 || len(opsBlocks) < 4 {
		t.Fatalf("README examples: %d Go, %d API, %d module and %d operations blocks; fewer than expected",
			len(goBlocks), len(apiBlocks), len(moduleBlocks), len(opsBlocks))
	}
	t.Run("api", func(t *testing.T) { runAPIExamples(t, apiBlocks) })
	t.Run("go client from another module", func(t *testing.T) { buildGoExamples(t, moduleBlocks[0], goBlocks) })
	t.Run("operations", func(t *testing.T) { runOperationsExamples(t, opsBlocks) })
}

func bash(t *testing.T, dir string, env []string, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+script)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's shell example failed: %v\n--- script\n%s\n--- output\n%s", err, script, out)
	}
	return string(out)
}

func runAPIExamples(t *testing.T, blocks []readmeBlock) {
	fake := StartFake(t)
	b := StartBackend(t, t.TempDir(), "OPENROUTER_BASE_URL="+fake.FakeBaseURL(), "OPENROUTER_API_KEY="+FakeKey)
	// curl fails on an HTTP error, so a refused call fails the example.
	script := "curl() { command curl --fail-with-body \"$@\"; echo; }\n"
	for _, block := range blocks {
		script += "# README line " + itoa(block.line) + "\n" + strings.ReplaceAll(block.code, "http://127.0.0.1:8000", b.URL)
	}
	out := bash(t, t.TempDir(), minimalEnv(), script)
	for _, want := range []string{`"email":"ann@example.com"`, `"scopes":["ai","read"]`, `"object":"chat.completion"`,
		`You said: \"Hello\"`, `"budget":`} {
		if !strings.Contains(out, want) {
			t.Errorf("the README's API examples did not print %s:\n%s", want, out)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

var openaiVersion = regexp.MustCompile(`github.com/openai/openai-go/v3 (v\S+)`)

func buildGoExamples(t *testing.T, setup readmeBlock, programs []readmeBlock) {
	root := t.TempDir()
	if err := os.Symlink(RepoRoot(), filepath.Join(root, "duckgate")); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(root, "myapp")
	if err := os.Mkdir(app, 0o750); err != nil {
		t.Fatal(err)
	}
	env := append(minimalEnv(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPATH="+goEnv(t, "GOPATH"),
		"GOMODCACHE="+goEnv(t, "GOMODCACHE"), "GOCACHE="+goEnv(t, "GOCACHE"), "GOPROXY="+goEnv(t, "GOPROXY"))
	bash(t, app, env, setup.code)
	for i, p := range programs {
		dir := filepath.Join(app, "example"+itoa(i+1))
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(p.code), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The SDK example needs the SDK, at the version the tests pin.
	m := openaiVersion.FindStringSubmatch(readRepoFile(t, "e2e/go.mod"))
	if m == nil {
		t.Fatal("e2e/go.mod does not pin github.com/openai/openai-go/v3")
	}
	bash(t, app, env, "go get github.com/openai/openai-go/v3@"+m[1]+" && go mod tidy && go vet ./... && go build ./...")
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// standIns are the tools the operator examples call, as shell functions
// that check their arguments against the repository and log what they
// could not find.
const standIns = `
bad() { echo "BAD: $*" >> "$CHECKS"; }
git() {
  case "$1" in
    clone) mkdir -p "$3" ;;
    rev-parse) echo abc1234 ;;
    *) bad "git $*" ;;
  esac
}
make() {
  for target in "$@"; do grep -q "^$target:" "$REPO/Makefile" || bad "make: no target $target"; done
}
docker() {
  case "$1" in
    build)
      shift
      while [ $# -gt 0 ]; do
        case "$1" in
          -f) [ -f "$REPO/$2" ] || bad "docker build: no $2"; shift 2 ;;
          *) shift ;;
        esac
      done ;;
    compose)
      shift
      for word in "$@"; do
        case "$word" in
          backend|frontend) grep -q "^  $word:" "$REPO/docker-compose.yml" || bad "compose: no service $word" ;;
        esac
      done
      [ "$1" = logs ] && echo '{"level":"WARN","msg":"created initial admin","email":"admin@localhost","password":"x"}'
      return 0 ;;
    run)
      echo "$*" | grep -q "duckgate-\(backend\|frontend\):" || bad "docker run: not one of our images: $*" ;;
    *) bad "docker $*" ;;
  esac
}
kubectl() {
  case "$1" in
    create) [ "$2" = secret ] || bad "kubectl $*" ;;
    apply) [ "$2" = -k ] && [ -f "$REPO/$3/kustomization.yaml" ] || bad "kubectl apply: no kustomization in $3" ;;
    *) bad "kubectl $*" ;;
  esac
}
sudo() {
  [ "$1" = -u ] && shift 2
  "$@"
}
apt-get() { [ "$1" = install ] || bad "apt-get $*"; }
createuser() { :; }
createdb() { [ "$1" = --owner ] || bad "createdb $*"; }
pg_dump() {
  echo "$*" | grep -q -- "--file=[^ ]*\.dump postgres://" || bad "pg_dump $*"
}
pg_restore() {
  echo "$*" | grep -q -- "--dbname=postgres://.* [^ ]*\.dump$" || bad "pg_restore $*"
}
`

func runOperationsExamples(t *testing.T, blocks []readmeBlock) {
	dir := t.TempDir()
	for _, name := range []string{"deploy", "Makefile", "docker-compose.yml"} {
		if err := os.Symlink(filepath.Join(RepoRoot(), name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	checks := filepath.Join(dir, "checks.log")
	binaryStandIns(t, dir, checks)
	env := append(minimalEnv(), "REPO="+RepoRoot(), "CHECKS="+checks, "DUCKGATE_REPOSITORY=https://example.com/duckgate.git",
		"DATABASE_URL=postgres://duckgate:secret@127.0.0.1:5432/duckgate")
	for _, block := range blocks {
		bash(t, dir, env, standIns+"# README line "+itoa(block.line)+"\n"+block.code)
	}
	if raw, err := os.ReadFile(checks); err == nil && len(raw) > 0 {
		t.Fatalf("the README's operator examples name what does not exist:\n%s", raw)
	}
}

// binaryStandIns puts bin/backend and bin/frontend in dir, as make build
// would: each checks that it is asked for a command the real binary has
// (its --help lists them) and records any other in checks.
func binaryStandIns(t *testing.T, dir, checks string) {
	t.Helper()
	commands := map[string]string{
		"backend":  "serve|db export --out|db import --from|db backup --out|db restore --from",
		"frontend": "serve",
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, allowed := range commands {
		script := "#!/bin/bash\n" +
			"args=\"$*\"; [ -z \"$args\" ] && args=serve\n" +
			"case \"$args\" in\n" +
			"  \"" + strings.ReplaceAll(allowed, "|", "\"*|\"") + "\"*) ;;\n" +
			"  *) echo \"BAD: " + name + " $args\" >> " + checks + " ;;\n" +
			"esac\n"
		if err := os.WriteFile(filepath.Join(dir, "bin", name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
