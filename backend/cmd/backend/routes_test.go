package main

import (
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/openapi"
)

// notYetServed lists operations the document describes ahead of their
// implementation (issues still open). Each entry comes out as it lands.
var notYetServed = map[string]bool{}

// TestRouterAndDocumentAgree fails when a served route is missing from the
// OpenAPI document or the document names a route that is not served.
func TestRouterAndDocumentAgree(t *testing.T) {
	served := map[string]bool{}
	for _, r := range servedRoutes(t) {
		if r == "GET /docs/*asset" { // the docs page's assets, not part of the API
			continue
		}
		served[r] = true
	}
	documented := map[string]bool{}
	for _, op := range openapi.Operations() {
		documented[op.Method+" "+openapi.GinPath(op.Path)] = true
	}
	var missing, phantom []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		method, path, _ := strings.Cut(r, " ")
		if !served[r] && !notYetServed[method+" "+openapi.OpenAPIPath(path)] {
			phantom = append(phantom, r)
		}
		if served[r] && notYetServed[method+" "+openapi.OpenAPIPath(path)] {
			t.Errorf("%s is served now: remove it from notYetServed", r)
		}
	}
	sort.Strings(missing)
	sort.Strings(phantom)
	if len(missing) > 0 {
		t.Errorf("served but not in the OpenAPI document:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(phantom) > 0 {
		t.Errorf("in the OpenAPI document but not served:\n  %s", strings.Join(phantom, "\n  "))
	}
}

// servedRoutes lists the router's routes as "METHOD /path/:param".
func servedRoutes(t *testing.T) []string {
	t.Helper()
	a := newTestApp(t, nil)
	engine, ok := a.router.(*gin.Engine)
	if !ok {
		t.Fatalf("router is %T, not *gin.Engine", a.router)
	}
	var out []string
	for _, r := range engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
