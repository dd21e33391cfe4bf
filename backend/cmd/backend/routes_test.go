package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/openapi"
)

// servedDocument is the OpenAPI document a running backend serves, reduced
// to what the router must agree with: per "METHOD /path", who may call the
// operation and how large its body may be.
type documentedOp struct {
	method, path string
	secured      bool  // security is not empty: a token is needed
	adminOnly    bool  // "Requires the admin role."
	maxBody      int64 // x-max-body-bytes; 0 when the operation takes no body
}

func servedDocument(t *testing.T, ts *testServer) []documentedOp {
	t.Helper()
	status, _, body := ts.do("GET", "/openapi.json", "", "")
	if status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", status)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Description string           `json:"description"`
			Security    []map[string]any `json:"security"`
			MaxBody     int64            `json:"x-max-body-bytes"`
			RequestBody *struct{}        `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	var ops []documentedOp
	for path, item := range doc.Paths {
		for method, op := range item {
			if op.RequestBody != nil && op.MaxBody == 0 {
				t.Errorf("%s %s takes a body but documents no %s", method, path, openapi.MaxBodyExtension)
			}
			ops = append(ops, documentedOp{method: strings.ToUpper(method), path: path, secured: len(op.Security) > 0,
				adminOnly: strings.HasPrefix(op.Description, "Requires the admin role."), maxBody: op.MaxBody})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

// TestRouterAndDocumentAgree fails when a served route is missing from the
// OpenAPI document or the document names a route that is not served.
func TestRouterAndDocumentAgree(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	engine, ok := a.router.(*gin.Engine)
	if !ok {
		t.Fatalf("router is %T, not *gin.Engine", a.router)
	}
	ts, _ := serveTestApp(t, a)
	served := map[string]bool{}
	for _, r := range engine.Routes() {
		if r.Path != "/docs/*asset" { // the docs page's assets, not part of the API
			served[r.Method+" "+r.Path] = true
		}
	}
	documented := map[string]bool{}
	for _, op := range servedDocument(t, ts) {
		documented[op.method+" "+openapi.GinPath(op.path)] = true
	}
	var missing, phantom []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !served[r] {
			phantom = append(phantom, r)
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

// TestEveryOperationEnforcesItsDocumentedAccessAndBodyLimit calls every
// documented operation as the document describes it: without a token
// (401 exactly when the operation is secured), with a plain user's token
// (403 exactly on admin operations), and, where it takes a body, with one
// byte over its documented limit (413) and with exactly the limit (not 413).
func TestEveryOperationEnforcesItsDocumentedAccessAndBodyLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ts.newUser("plain@example.com")
	_, userPair := ts.loginPair("plain@example.com", "password-plain@example.com")
	admin := ts.adminToken()
	for _, op := range servedDocument(t, ts) {
		path := strings.NewReplacer("{id}", uuid.NewString()).Replace(op.path)
		if op.method == "DELETE" && !op.adminOnly && op.secured {
			continue // the caller's own sessions: ending them would sign the test out
		}
		t.Run(op.method+" "+op.path, func(t *testing.T) {
			status, _, _ := ts.do(op.method, path, "", "")
			if got401 := status == http.StatusUnauthorized; got401 != op.secured {
				t.Errorf("without a token: %d (secured=%v)", status, op.secured)
			}
			if op.secured {
				status, _, _ = ts.do(op.method, path, "", "", "Authorization", "Bearer "+userPair.AccessToken)
				if got403 := status == http.StatusForbidden; got403 != op.adminOnly {
					t.Errorf("with a user's token: %d (admin only=%v)", status, op.adminOnly)
				}
			}
			if op.maxBody == 0 {
				return
			}
			over := strings.Repeat("x", int(op.maxBody)+1)
			status, _, _ = ts.do(op.method, path, "application/json", over, "Authorization", "Bearer "+admin)
			if status != http.StatusRequestEntityTooLarge {
				t.Errorf("a body of the limit + 1 (%d bytes): %d, want 413", len(over), status)
			}
			status, _, _ = ts.do(op.method, path, "application/json", over[1:], "Authorization", "Bearer "+admin)
			if status == http.StatusRequestEntityTooLarge {
				t.Errorf("a body of exactly the limit (%d bytes) was refused as too large", len(over)-1)
			}
		})
	}
}
