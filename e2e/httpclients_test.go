package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoCodeReliesOnTheDefaultHTTPClient keeps every HTTP call, tests
// included, on a client and transport built for its use: http.DefaultClient
// has no timeout, and http.DefaultTransport is state shared by the whole
// program that any package may change. So no module names them, calls the
// package-level helpers that use them (http.Get, Head, Post, PostForm), or
// builds an http.Client without a Transport (which falls back to
// http.DefaultTransport).
func TestNoCodeReliesOnTheDefaultHTTPClient(t *testing.T) {
	forbidden := map[string]string{
		"DefaultClient":    "http.DefaultClient",
		"DefaultTransport": "http.DefaultTransport",
		"Get":              "http.Get (http.DefaultClient)",
		"Head":             "http.Head (http.DefaultClient)",
		"Post":             "http.Post (http.DefaultClient)",
		"PostForm":         "http.PostForm (http.DefaultClient)",
	}
	files := 0
	for _, module := range []string{"shared", "backend", "frontend", "e2e", "loadtest"} {
		root := filepath.Join(RepoRoot(), module)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") {
				return nil
			}
			files++
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			httpName := ""
			for _, imp := range file.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == "net/http" {
					httpName = "http"
					if imp.Name != nil {
						httpName = imp.Name.Name
					}
				}
			}
			if httpName == "" {
				return nil
			}
			isHTTP := func(e ast.Expr, name string) bool {
				sel, ok := e.(*ast.SelectorExpr)
				if !ok {
					return false
				}
				x, ok := sel.X.(*ast.Ident)
				return ok && x.Name == httpName && (name == "" || sel.Sel.Name == name)
			}
			rel, _ := filepath.Rel(RepoRoot(), path)
			ast.Inspect(file, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if what, bad := forbidden[n.Sel.Name]; bad && isHTTP(n, "") {
						t.Errorf("%s:%d: uses %s; build a client or transport for the purpose", rel, fset.Position(n.Pos()).Line, what)
					}
				case *ast.CompositeLit:
					if !isHTTP(n.Type, "Client") {
						return true
					}
					for _, elt := range n.Elts {
						if kv, ok := elt.(*ast.KeyValueExpr); ok {
							if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "Transport" {
								return true
							}
						}
					}
					t.Errorf("%s:%d: an http.Client without a Transport uses http.DefaultTransport", rel, fset.Position(n.Pos()).Line)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 100 {
		t.Fatalf("checked only %d Go files: is the repository root %s right?", files, RepoRoot())
	}
}
