package openapi_test

import (
	"maps"

	"github.com/duckgate/duckgate/backend/internal/httpapi"
	"github.com/duckgate/duckgate/backend/internal/openapi"

	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// testLimits are the configuration's default body limits.
var testLimits = httpapi.BodyLimits{Default: 1 << 20, Image: 10 << 20}

func buildDoc(t *testing.T) []byte {
	t.Helper()
	doc, err := httpapi.Document(openapi.Info{Title: "duckgate", Version: "test", ServerURL: "http://127.0.0.1:8000"}, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func parseDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(buildDoc(t), &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	return doc
}

// at follows keys through nested JSON objects, failing the test when one is missing.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s is not an object", strings.Join(keys[:i], "/"))
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("document has no %s", strings.Join(keys[:i+1], "/"))
		}
	}
	return v
}

func TestDocumentIsOpenAPI31(t *testing.T) {
	doc := parseDoc(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	if at(t, doc, "info", "title") != "duckgate" || at(t, doc, "info", "version") != "test" {
		t.Errorf("info = %v", doc["info"])
	}
	servers := at(t, doc, "servers").([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["url"] != "http://127.0.0.1:8000" {
		t.Errorf("servers = %v", servers)
	}
	flow := at(t, doc, "components", "securitySchemes", "oauth2Password", "flows", "password")
	if at(t, flow, "tokenUrl") != "/auth/login" {
		t.Errorf("password flow = %v", flow)
	}
	if at(t, doc, "components", "securitySchemes", "bearerAuth", "scheme") != "bearer" {
		t.Error("no bearer scheme")
	}
}

func TestEveryRefResolves(t *testing.T) {
	doc := parseDoc(t)
	refs := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs++
				if !strings.HasPrefix(ref, "#/") {
					t.Errorf("$ref %q is not local", ref)
					return
				}
				var keys []string
				for _, k := range strings.Split(ref[2:], "/") {
					k, _ = url.PathUnescape(k)
					keys = append(keys, strings.NewReplacer("~1", "/", "~0", "~").Replace(k))
				}
				at(t, doc, keys...)
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
	if refs < 20 {
		t.Errorf("only %d $refs: are schemas still shared through components?", refs)
	}
}

func TestEveryOperationHasSuccessSecurityAndProblems(t *testing.T) {
	doc := parseDoc(t)
	ids := map[string]string{}
	for _, op := range httpapi.Operations(testLimits) {
		name := op.Method + " " + op.Path
		obj := at(t, doc, "paths", op.Path, strings.ToLower(op.Method)).(map[string]any)
		responses := obj["responses"].(map[string]any)
		if !slices.ContainsFunc(slices.Sorted(maps.Keys(responses)), func(s string) bool { return s[0] == '2' }) {
			t.Errorf("%s documents no success response", name)
		}
		sec, ok := obj["security"].([]any)
		switch {
		case !ok:
			t.Errorf("%s declares no security", name)
		case op.Auth == openapi.AuthNone && len(sec) != 0:
			t.Errorf("%s is public but requires %v", name, sec)
		case op.Auth != openapi.AuthNone && len(sec) == 0:
			t.Errorf("%s needs a token but declares none", name)
		}
		errorType, errorSchema := "application/problem+json", "#/components/schemas/Problem"
		if op.OpenAI {
			errorType, errorSchema = "application/json", "#/components/schemas/OpenAIErrorResponse"
		}
		if op.Auth != openapi.AuthNone {
			ref := at(t, responses, "401", "content", errorType, "schema", "$ref")
			if ref != errorSchema {
				t.Errorf("%s: 401 is not a %s: %v", name, errorSchema, ref)
			}
			at(t, responses, "403") // admins only, or an API key without the scope
		}
		if op.Metered {
			at(t, responses, "402", "content", errorType)
			at(t, responses, "429", "headers", "Retry-After")
		}
		if _, hasBody := obj["requestBody"]; hasBody {
			for _, status := range []string{"400", "413", "415"} {
				at(t, responses, status, "content", errorType)
			}
		}
		id := obj["operationId"].(string)
		if other, dup := ids[id]; dup {
			t.Errorf("operationId %s is used by %s and %s", id, other, name)
		}
		ids[id] = name
	}
}

func TestDocumentCoversTheContract(t *testing.T) {
	doc := parseDoc(t)
	// A sample of the contract's endpoints, one per area, and the special
	// content types they promise.
	at(t, doc, "paths", "/auth/login", "post", "requestBody", "content", "application/x-www-form-urlencoded")
	at(t, doc, "paths", "/ai/chat", "post", "responses", "200", "content", "text/event-stream")
	at(t, doc, "paths", "/ai/chat", "post", "responses", "200", "content", "application/json")
	at(t, doc, "paths", "/generate/video/{id}/content", "get", "responses", "200", "content", "video/mp4")
	at(t, doc, "paths", "/users/me/sessions/{id}", "delete", "responses", "204")
	at(t, doc, "paths", "/admin/audit", "get", "parameters")
	at(t, doc, "paths", "/ai/models", "get", "responses", "429", "headers", "Retry-After")
	inDoc := 0
	for _, item := range at(t, doc, "paths").(map[string]any) {
		inDoc += len(item.(map[string]any))
	}
	if n := len(httpapi.Operations(testLimits)); n != inDoc || n < 33 {
		t.Errorf("Operations() has %d entries, the document %d", n, inDoc)
	}
}

func TestReflectedSchemas(t *testing.T) {
	doc := parseDoc(t)
	schemas := at(t, doc, "components", "schemas")

	user := at(t, schemas, "User")
	if got := at(t, user, "required"); !sameStrings(got, "id", "email", "role", "created_at", "updated_at") {
		t.Errorf("User.required = %v", got)
	}
	if at(t, user, "properties", "created_at", "format") != "date-time" {
		t.Error("time.Time is not a date-time string")
	}
	if !sameStrings(at(t, user, "properties", "role", "enum"), "user", "admin") {
		t.Error("User.role has no enum")
	}

	chat := at(t, schemas, "ChatRequest")
	if !sameStrings(at(t, chat, "required"), "messages") {
		t.Errorf("ChatRequest.required = %v, want only messages", at(t, chat, "required"))
	}
	if !sameStrings(at(t, chat, "properties", "temperature", "type"), "number", "null") {
		t.Errorf("a pointer field is not nullable: %v", at(t, chat, "properties", "temperature"))
	}
	if at(t, chat, "properties", "messages", "items", "$ref") != "#/components/schemas/ChatMessage" {
		t.Error("a slice of structs is not an array of $ref")
	}

	fromImage := at(t, schemas, "VideoFromImageRequest")
	at(t, fromImage, "properties", "duration") // flattened from the embedded VideoRequest
	if !sameStrings(at(t, fromImage, "required"), "image_url", "prompt") {
		t.Errorf("VideoFromImageRequest.required = %v", at(t, fromImage, "required"))
	}

	if at(t, schemas, "Model", "properties", "pricing", "additionalProperties", "type") != "string" {
		t.Error("map[string]string is not an object of strings")
	}
	choice := at(t, schemas, "ChatChunkChoice")
	if !sameStrings(at(t, choice, "properties", "finish_reason", "type"), "string", "null") ||
		!slices.Contains(at(t, choice, "required").([]any), any("finish_reason")) {
		t.Errorf("finish_reason (a *string without omitempty) must be required and nullable: %v", choice)
	}
	if _, leaked := at(t, schemas, "Problem", "properties").(map[string]any)["RetryAfter"]; leaked {
		t.Error(`a json:"-" field is in the schema`)
	}
}

func sameStrings(v any, want ...string) bool {
	list, ok := v.([]any)
	if !ok || len(list) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.Contains(list, any(w)) {
			return false
		}
	}
	return true
}

func TestPathConversions(t *testing.T) {
	cases := map[string]string{
		"/users/{id}":                  "/users/:id",
		"/users/{id}/role":             "/users/:id/role",
		"/generate/video/{id}/content": "/generate/video/:id/content",
		"/users/me":                    "/users/me",
		"/.well-known/jwks.json":       "/.well-known/jwks.json",
	}
	for openapiPath, ginPath := range cases {
		if got := openapi.GinPath(openapiPath); got != ginPath {
			t.Errorf("GinPath(%q) = %q, want %q", openapiPath, got, ginPath)
		}
		if got := openapi.OpenAPIPath(ginPath); got != openapiPath {
			t.Errorf("OpenAPIPath(%q) = %q, want %q", ginPath, got, openapiPath)
		}
	}
}

func TestDocumentFitsTheOpenAPI31Schema(t *testing.T) {
	metaschema, err := os.ReadFile("testdata/oas-3.1-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := jsonschema.UnmarshalJSON(bytes.NewReader(metaschema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const url = "https://spec.openapis.org/oas/3.1/schema/2021-04-15"
	if err := c.AddResource(url, meta); err != nil {
		t.Fatal(err)
	}
	oas, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buildDoc(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := oas.Validate(doc); err != nil {
		t.Errorf("the document is not valid OpenAPI 3.1: %v", err)
	}
	// The check has teeth: a response without its required description fails.
	broken, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"openapi":"3.1.1","info":{"title":"x","version":"1"},
		"paths":{"/x":{"get":{"responses":{"200":{}}}}}}`))
	if oas.Validate(broken) == nil {
		t.Error("the OpenAPI schema accepted a response without description")
	}
}
