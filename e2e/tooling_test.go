package e2e

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzTargets finds every fuzz target of the modules in go.work by parsing
// the test files: "module ./package FuzzName", sorted.
func fuzzTargets(t *testing.T) []string {
	t.Helper()
	root := RepoRoot()
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^\s*\./(\S+)\s*$`).FindAllStringSubmatch(readRepoFile(t, "go.work"), -1) {
		module := m[1]
		err := filepath.WalkDir(filepath.Join(root, module), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
				return nil
			}
			file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(filepath.Join(root, module), filepath.Dir(path))
			for _, decl := range file.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Fuzz") || len(fn.Type.Params.List) != 1 {
					continue
				}
				if star, ok := fn.Type.Params.List[0].Type.(*ast.StarExpr); ok {
					if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "F" {
						out = append(out, module+" ./"+filepath.ToSlash(rel)+" "+fn.Name.Name)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range out {
		out[i] = strings.Replace(s, " ./. ", " . ", 1)
	}
	slices.Sort(out)
	return out
}

// make fuzz runs every fuzz target in the repository, found rather than
// listed, FUZZTIME each (60 s unless set).
func TestMakeFuzzRunsEveryFuzzTarget(t *testing.T) {
	want := fuzzTargets(t)
	if len(want) < 10 {
		t.Fatalf("found only %d fuzz targets: %q", len(want), want)
	}
	cmd := exec.Command(filepath.Join(RepoRoot(), ".ci", "fuzz"), "-list")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf(".ci/fuzz -list: %v\n%s", err, out)
	}
	listed := strings.Split(strings.TrimSpace(string(out)), "\n")
	slices.Sort(listed)
	if !slices.Equal(listed, want) {
		t.Fatalf(".ci/fuzz finds\n%s\nthe test files hold\n%s", strings.Join(listed, "\n"), strings.Join(want, "\n"))
	}

	if got := makeDryRun(t, "fuzz"); !strings.Contains(got, "FUZZTIME=60s .ci/fuzz") {
		t.Errorf("make fuzz runs %q, want FUZZTIME=60s by default", got)
	}
	if got := makeDryRun(t, "test"); !strings.Contains(got, "fuzz FUZZTIME=2s") {
		t.Errorf("make test does not end with the quick fuzz pass:\n%s", got)
	}

	// One target, for real, as make runs it.
	run := exec.Command("make", "-s", "fuzz", "FUZZ=FuzzSafeNext$", "FUZZTIME=1s")
	run.Dir = RepoRoot()
	out, err = run.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "== fuzz frontend ./internal/web FuzzSafeNext (1s)") ||
		!strings.Contains(string(out), "fuzz: 1 target(s) passed") {
		t.Fatalf("make fuzz FUZZ=FuzzSafeNext$: %v\n%s", err, out)
	}
}

// A failing target fails the run, after the others ran, and is named.
func TestFuzzScriptReportsFailingTargets(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, err := os.ReadFile(filepath.Join(RepoRoot(), ".ci", "fuzz"))
	if err != nil {
		t.Fatal(err)
	}
	write(".ci/fuzz", string(script))
	goVersion := regexp.MustCompile(`(?m)^go (\S+)`).FindStringSubmatch(readRepoFile(t, "go.work"))[1]
	write("go.work", "go "+goVersion+"\n\nuse (\n\t./m\n)\n")
	write("m/go.mod", "module example.com/m\n\ngo "+goVersion+"\n")
	// FUNC, not func, at the start of these lines: .ci/fuzz greps for fuzz
	// targets and must not find these in this file.
	write("m/p/p_test.go", strings.ReplaceAll(`package p

import "testing"

FUNC FuzzFine(f *testing.F) {
	f.Add("x")
	f.Fuzz(func(t *testing.T, s string) {})
}

FUNC FuzzBroken(f *testing.F) {
	f.Add("boom")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "boom" {
			t.Fatal("broken on purpose")
		}
	})
}
`, "FUNC ", "func "))
	cmd := exec.Command(filepath.Join(dir, ".ci", "fuzz"))
	cmd.Env = append(os.Environ(), "FUZZTIME=1s", "GOWORK="+filepath.Join(dir, "go.work"), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a failing target passed:\n%s", out)
	}
	for _, want := range []string{"== fuzz m ./p FuzzFine", "== fuzz m ./p FuzzBroken", "1 target(s) failed", "m ./p FuzzBroken"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// make run-fake-ai stops with the reason when the simulator cannot listen,
// instead of pointing the backend at whatever holds the address; when it
// can, the backend is pointed at it.
func TestMakeRunFakeAIFailsWhenTheSimulatorCannotStart(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// Stands in for `make run`: shows what the backend would be pointed at.
	fakeMake := filepath.Join(t.TempDir(), "make")
	if err := os.WriteFile(fakeMake, []byte("#!/bin/sh\necho \"run with OPENROUTER_BASE_URL=$OPENROUTER_BASE_URL\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	runFakeAI := func(addr string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "make", "-s", "run-fake-ai", "FAKE_ADDR="+addr, "MAKE="+fakeMake)
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := runFakeAI(held.Addr().String())
	if err == nil || !strings.Contains(out, held.Addr().String()+" is already in use") || strings.Contains(out, "run with") {
		t.Errorf("address taken: %v\n%s\nwant a failure saying so, before anything else starts", err, out)
	}

	out, err = runFakeAI("127.0.0.1:99999")
	if err == nil || !strings.Contains(out, "fake-openrouter: listen") || !strings.Contains(out, "did not start") || strings.Contains(out, "run with") {
		t.Errorf("simulator failing: %v\n%s\nwant its error and a failure", err, out)
	}

	free := FreeAddr(t)
	out, err = runFakeAI(free)
	if err != nil || !strings.Contains(out, "SIMULATOR of OpenRouter") || !strings.Contains(out, "run with OPENROUTER_BASE_URL=http://"+free+"/api/v1") {
		t.Errorf("free address: %v\n%s\nwant the simulator up and the backend pointed at it", err, out)
	}
}
