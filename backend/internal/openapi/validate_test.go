package openapi_test

import (
	"github.com/duckgate/duckgate/backend/internal/openapi"

	"strings"
	"testing"
)

func newTestValidator(t *testing.T) *openapi.Validator {
	t.Helper()
	v, err := openapi.NewValidator(buildDoc(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const goodUser = `{"id":"0192d3c4-0000-7000-8000-000000000001","email":"a@b.c","role":"admin",
	"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`

func TestValidatorAcceptsDocumentedResponses(t *testing.T) {
	v := newTestValidator(t)
	cases := []struct {
		method, path string
		status       int
		contentType  string
		body         string
	}{
		{"GET", "/users/me", 200, "application/json; charset=utf-8", goodUser},
		{"PUT", "/users/0192d3c4/role", 200, "application/json", goodUser},
		{"GET", "/users?limit=5&q=x", 200, "application/json", `{"items":[` + goodUser + `],"total":1}`},
		{"DELETE", "/users/me/sessions/abc", 204, "", ``},
		{"POST", "/auth/login", 401, "application/problem+json",
			`{"type":"https://duckgate.dev/problems/unauthorized","title":"Unauthorized","status":401,"detail":"x","request_id":"r"}`},
		{"POST", "/auth/register", 422, "application/problem+json",
			`{"type":"https://duckgate.dev/problems/validation","title":"Unprocessable Entity","status":422,"errors":[{"field":"email","message":"bad"}]}`},
		{"POST", "/ai/chat", 200, "text/event-stream", "data: [DONE]\n\n"},
		{"GET", "/generate/video/job1/content", 200, "video/mp4", "\x00\x00\x00\x18ftypmp42"},
		{"GET", "/admin/health/db", 503, "application/json", `{"status":"error","latency_ms":0,"error":"database is locked"}`},
		{"POST", "/generate/video", 202, "application/json",
			`{"id":"j","status":"pending","model":"m","prompt":"p","created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`},
	}
	for _, tc := range cases {
		if err := v.ValidateResponse(tc.method, tc.path, tc.status, tc.contentType, []byte(tc.body)); err != nil {
			t.Errorf("%s %s %d: %v", tc.method, tc.path, tc.status, err)
		}
	}
}

func TestValidatorRejects(t *testing.T) {
	v := newTestValidator(t)
	cases := []struct {
		name, method, path string
		status             int
		contentType, body  string
		wantErr            string
	}{
		{"missing required field", "GET", "/users/me", 200, "application/json",
			`{"id":"x","role":"user","created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`, "email"},
		{"wrong type", "GET", "/users/me", 200, "application/json",
			strings.Replace(goodUser, `"email":"a@b.c"`, `"email":42`, 1), "email"},
		{"value outside the enum", "GET", "/users/me", 200, "application/json",
			strings.Replace(goodUser, `"role":"admin"`, `"role":"root"`, 1), "role"},
		{"null instead of an array", "GET", "/users", 200, "application/json", `{"items":null,"total":0}`, "items"},
		{"nested wrong type", "GET", "/admin/stats", 200, "application/json",
			`{"users":{"total":"1","by_role":{"admin":1,"user":0}},"refresh_tokens":{"active":0,"rotated":0,"revoked":0,"expired":0},"ai":{"requests_24h":0,"by_model":[]}}`, "total"},
		{"problem without status", "GET", "/users/me", 401, "application/problem+json", `{"type":"t","title":"x"}`, "status"},
		{"undocumented status", "GET", "/users/me", 418, "application/json", `{}`, "does not document status 418"},
		{"undocumented path", "GET", "/nope", 200, "application/json", `{}`, "no documented path"},
		{"undocumented method", "PATCH", "/users/me", 200, "application/json", `{}`, "not documented"},
		{"wrong content type", "GET", "/users/me", 200, "text/html", `<p>`, "not text/html"},
		{"problem as plain JSON", "GET", "/users/me", 401, "application/json", `{}`, "not application/json"},
		{"body where none is documented", "DELETE", "/users/x", 204, "application/json", `{}`, "no body"},
		{"not JSON", "GET", "/users/me", 200, "application/json", `{"id":`, "not JSON"},
	}
	for _, tc := range cases {
		err := v.ValidateResponse(tc.method, tc.path, tc.status, tc.contentType, []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestValidatorPrefersLiteralPathSegments(t *testing.T) {
	v := newTestValidator(t)
	// /users/me/sessions must not be taken for a user id route; its body is a
	// SessionList, which a User schema would refuse.
	body := `{"items":[{"id":"s","created_at":"2025-01-02T03:04:05Z","last_used_at":"2025-01-02T03:04:05Z",
		"expires_at":"2025-01-02T03:04:05Z","user_agent":"ua","ip":"127.0.0.1","current":true}]}`
	if err := v.ValidateResponse("GET", "/users/me/sessions", 200, "application/json", []byte(body)); err != nil {
		t.Error(err)
	}
	if err := v.ValidateResponse("GET", "/users/me", 200, "application/json", []byte(goodUser)); err != nil {
		t.Error(err)
	}
}

func TestValidateJSONComponent(t *testing.T) {
	v := newTestValidator(t)
	chunk := `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
		"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}`
	if err := v.ValidateJSON("ChatChunk", []byte(chunk)); err != nil {
		t.Error(err)
	}
	if err := v.ValidateJSON("ChatChunk", []byte(`{"id":"c"}`)); err == nil {
		t.Error("an incomplete chunk was accepted")
	}
	if err := v.ValidateJSON("NoSuchThing", []byte(`{}`)); err == nil {
		t.Error("an unknown component was accepted")
	}
}
