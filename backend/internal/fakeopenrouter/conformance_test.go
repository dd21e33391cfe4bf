package fakeopenrouter_test

// Conformance: every kind of answer the fake gives is validated against the
// response schema the OpenRouter spec declares for that operation, status
// and content type, so the fake cannot drift from the real API unnoticed.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
)

const specCopy = "testdata/openrouter-openapi.yaml"

// The spec beside the checkout (CI puts shared/ next to it); the copy here
// must stay byte-identical so the fake is checked against the real thing.
func TestSpecCopyIsVerbatim(t *testing.T) {
	original, err := os.ReadFile("../../../../shared/openrouter/openapi.yaml")
	if os.IsNotExist(err) {
		t.Skip("shared/openrouter/openapi.yaml is not beside the checkout")
	}
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile(specCopy)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(original, copied) {
		t.Fatalf("%s differs from shared/openrouter/openapi.yaml: copy it again", specCopy)
	}
}

// spec answers "which schema does the spec declare for this answer".
type spec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
}

const specURL = "file:///openrouter-openapi.json"

func loadSpec(t *testing.T) *spec {
	t.Helper()
	raw, err := os.ReadFile(specCopy)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// Through JSON, so the validator sees the same values as with JSON input.
	encoded, err := json.Marshal(stringKeys(doc))
	if err != nil {
		t.Fatal(err)
	}
	asJSON, err := jsonschema.UnmarshalJSON(bytes.NewReader(encoded))
	if err != nil {
		t.Fatal(err)
	}
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft2020) // OpenAPI 3.1 schemas are JSON Schema 2020-12
	if err := compiler.AddResource(specURL, asJSON); err != nil {
		t.Fatal(err)
	}
	return &spec{doc: asJSON.(map[string]any), compiler: compiler}
}

// stringKeys turns yaml's map[any]any into JSON-encodable maps.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, item := range v {
			v[k] = stringKeys(item)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			out[fmt.Sprint(k)] = stringKeys(item)
		}
		return out
	case []any:
		for i, item := range v {
			v[i] = stringKeys(item)
		}
	}
	return v
}

// responseSchema compiles the schema of paths[path][method].responses[status].content[contentType].
func (s *spec) responseSchema(t *testing.T, path, method string, status int, contentType string) *jsonschema.Schema {
	t.Helper()
	content, ok := dig(s.doc, "paths", path, strings.ToLower(method), "responses", fmt.Sprint(status), "content", contentType, "schema", "$ref").(string)
	if !ok {
		t.Fatalf("the spec declares no %s schema for %s %s → %d", contentType, method, path, status)
	}
	return s.schema(t, content)
}

func (s *spec) schema(t *testing.T, ref string) *jsonschema.Schema {
	t.Helper()
	compiled, err := s.compiler.Compile(specURL + ref)
	if err != nil {
		t.Fatalf("compile %s: %v", ref, err)
	}
	return compiled
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func validate(t *testing.T, schema *jsonschema.Schema, what string, body []byte) {
	t.Helper()
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: not JSON: %v: %.200s", what, err, body)
	}
	if err := schema.Validate(instance); err != nil {
		t.Errorf("%s does not follow the spec: %v\nbody: %.500s", what, err, body)
	}
}

// exchange is one call to the fake and the spec operation it answers.
type exchange struct {
	name, method, path, specPath, body string
	header                             map[string]string
	status                             int
	schemaRef                          string // instead of the operation's declared schema
}

func TestFakeAnswersFollowTheSpec(t *testing.T) {
	s := loadSpec(t)
	fake := fakeopenrouter.New(fakeopenrouter.Options{APIKey: "k", VideoPolls: 2})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	defer fake.Close()

	job := submit(t, srv.URL, `{"model":"google/veo-3.1","prompt":"duck","duration":4}`, nil)
	failing := submit(t, srv.URL, `{"model":"openai/sora-2","prompt":"duck"}`, map[string]string{"X-Fake-Fail": "video-failed"})
	chat := `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	toolChat := `{"model":"openai/gpt-4o-mini","tools":[{"type":"function","function":{"name":"get_weather",` +
		`"parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],` +
		`"messages":[{"role":"user","content":"Paris"}]}`
	exchanges := []exchange{
		{name: "models", method: "GET", path: "/models?output_modalities=all", specPath: "/models", status: 200},
		{name: "text models", method: "GET", path: "/models", specPath: "/models", status: 200},
		{name: "image models", method: "GET", path: "/images/models", specPath: "/images/models", status: 200},
		{name: "video models", method: "GET", path: "/videos/models", specPath: "/videos/models", status: 200},
		{name: "chat", method: "POST", path: "/chat/completions", specPath: "/chat/completions", body: chat, status: 200},
		{name: "chat image+text", method: "POST", path: "/chat/completions", specPath: "/chat/completions", status: 200,
			body: `{"model":"google/gemini-2.5-flash-image","modalities":["image","text"],"messages":[{"role":"user","content":"a duck"}]}`},
		{name: "chat image only", method: "POST", path: "/chat/completions", specPath: "/chat/completions", status: 200,
			body: `{"model":"black-forest-labs/flux.2-pro","modalities":["image"],"messages":[{"role":"user","content":"a duck"}]}`},
		{name: "chat tool call", method: "POST", path: "/chat/completions", specPath: "/chat/completions", status: 200, body: toolChat},
		{name: "chat after a tool", method: "POST", path: "/chat/completions", specPath: "/chat/completions", status: 200,
			body: `{"model":"openai/gpt-4o-mini","tools":[{"type":"function","function":{"name":"f"}}],"messages":[` +
				`{"role":"developer","content":"be brief"},{"role":"user","content":[{"type":"text","text":"Paris?"}]},` +
				`{"role":"assistant","content":null,"tool_calls":[{"id":"call-1","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
				`{"role":"tool","tool_call_id":"call-1","content":"sunny"}]}`},
		{name: "chat unknown model", method: "POST", path: "/chat/completions", specPath: "/chat/completions", status: 400,
			body: `{"model":"nobody/nothing","messages":[{"role":"user","content":"x"}]}`},
		{name: "images", method: "POST", path: "/images", specPath: "/images", status: 200,
			body: `{"model":"black-forest-labs/flux.2-pro","prompt":"a duck","n":2}`},
		{name: "images bad", method: "POST", path: "/images", specPath: "/images", status: 400, body: `{"model":"openai/gpt-4o-mini","prompt":"x"}`},
		{name: "video bad duration", method: "POST", path: "/videos", specPath: "/videos", status: 400,
			body: `{"model":"google/veo-3.1","prompt":"x","duration":5}`},
		{name: "video poll in progress", method: "GET", path: "/videos/" + job, specPath: "/videos/{jobId}", status: 200},
		{name: "video poll completed", method: "GET", path: "/videos/" + job, specPath: "/videos/{jobId}", status: 200},
		{name: "video poll failed", method: "GET", path: "/videos/" + failing + "?x=1", specPath: "/videos/{jobId}", status: 200},
		{name: "video poll failed again", method: "GET", path: "/videos/" + failing, specPath: "/videos/{jobId}", status: 200},
		{name: "video unknown", method: "GET", path: "/videos/job-nope", specPath: "/videos/{jobId}", status: 404},
		{name: "video content not ready", method: "GET", path: "/videos/" + failing + "/content?index=0", specPath: "/videos/{jobId}/content", status: 400},
		{name: "401", method: "POST", path: "/chat/completions", specPath: "/chat/completions", body: chat, status: 401, header: map[string]string{"Authorization": "Bearer wrong"}},
		{name: "402", method: "POST", path: "/chat/completions", specPath: "/chat/completions", body: chat, status: 402, header: map[string]string{"X-Fake-Fail": "402"}},
		{name: "429", method: "POST", path: "/videos", specPath: "/videos", body: `{}`, status: 429, header: map[string]string{"X-Fake-Fail": "429"}},
		{name: "500", method: "GET", path: "/models", specPath: "/models", status: 500, header: map[string]string{"X-Fake-Fail": "500"}},
		{name: "error in 200", method: "POST", path: "/chat/completions", specPath: "/chat/completions", body: chat, status: 200,
			header: map[string]string{"X-Fake-Fail": "error-in-200"}, schemaRef: "#/components/schemas/BadGatewayResponse"},
	}
	for _, ex := range exchanges {
		resp, body := call(t, srv.URL, ex.method, ex.path, ex.body, ex.header)
		if resp.StatusCode != ex.status {
			t.Errorf("%s: status %d, want %d: %.300s", ex.name, resp.StatusCode, ex.status, body)
			continue
		}
		schema := func() *jsonschema.Schema {
			if ex.schemaRef != "" {
				return s.schema(t, ex.schemaRef)
			}
			return s.responseSchema(t, ex.specPath, ex.method, ex.status, "application/json")
		}()
		validate(t, schema, ex.name, body)
	}

	t.Run("video submission", func(t *testing.T) {
		resp, body := call(t, srv.URL, "POST", "/videos", `{"model":"openai/sora-2","prompt":"duck","frame_images":[{"type":"image_url","frame_type":"first_frame","image_url":{"url":"https://example.com/duck.png"}}]}`, nil)
		validate(t, s.responseSchema(t, "/videos", "POST", resp.StatusCode, "application/json"), "video submission", body)
	})
	t.Run("video content", func(t *testing.T) {
		resp, body := call(t, srv.URL, "GET", "/videos/"+job+"/content?index=0", "", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || !bytes.Equal(body[4:8], []byte("ftyp")) {
			t.Errorf("content: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body[:8])
		}
		if dig(s.doc, "paths", "/videos/{jobId}/content", "get", "responses", "200", "content", "video/mp4") == nil {
			t.Error("the spec no longer says video/mp4")
		}
	})
	for _, mode := range []string{"", "error-mid-stream", "tools"} {
		t.Run("stream "+mode, func(t *testing.T) {
			streamed := s.responseSchema(t, "/chat/completions", "POST", 200, "text/event-stream")
			header := map[string]string{}
			request := `{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi there duck"}]}`
			switch mode {
			case "tools":
				request = strings.Replace(toolChat, `{`, `{"stream":true,`, 1)
			case "":
			default:
				header["X-Fake-Fail"] = mode
			}
			resp, body := call(t, srv.URL, "POST", "/chat/completions", request, header)
			if resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
			}
			events := sseData(body)
			if len(events) < 3 {
				t.Fatalf("only %d events", len(events))
			}
			sawError := false
			for i, data := range events {
				if data == "[DONE]" {
					continue
				}
				sawError = sawError || strings.Contains(data, `"error"`)
				// The spec's SSE schema is {"data": ChatStreamChunk}.
				validate(t, streamed, fmt.Sprintf("event %d", i), []byte(`{"data":`+data+`}`))
			}
			if mode == "tools" && !strings.Contains(strings.Join(events, ""), `"tool_calls"`) {
				t.Error("no tool call streamed")
			}
			if (mode == "error-mid-stream") != sawError {
				t.Errorf("mode %q: error event seen = %v", mode, sawError)
			}
			if mode != "error-mid-stream" && events[len(events)-1] != "[DONE]" {
				t.Errorf("the stream does not end with [DONE]: %q", events[len(events)-1])
			}
		})
	}
}

func call(t *testing.T, base, method, path, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer k")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

func submit(t *testing.T, base, body string, header map[string]string) string {
	t.Helper()
	resp, raw := call(t, base, "POST", "/videos", body, header)
	var job struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &job) != nil || job.ID == "" {
		t.Fatalf("submit: %d %s", resp.StatusCode, raw)
	}
	return job.ID
}

// sseData returns the data of each event of an SSE body.
func sseData(body []byte) []string {
	var events []string
	scanner := bufio.NewScanner(bytes.NewReader(body))
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		if data, ok := strings.CutPrefix(scanner.Text(), "data: "); ok {
			events = append(events, data)
		}
	}
	return events
}

// The schemas really constrain: answers a careless fake could give fail.
func TestSpecSchemasRejectWrongShapes(t *testing.T) {
	s := loadSpec(t)
	wrong := map[string]string{
		"/models":           `{"data":[{"id":"x"}],"total_count":1,"links":{"next":null}}`,
		"/videos/models":    `{"data":[{"id":"x","supported_durations":["5"]}]}`,
		"/chat/completions": `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"user"}}]}`,
		"/images":           `{"created":1,"data":[{"url":"https://x"}]}`,
	}
	for path, body := range wrong {
		method := "GET"
		if path == "/chat/completions" || path == "/images" {
			method = "POST"
		}
		instance, _ := jsonschema.UnmarshalJSON(strings.NewReader(body))
		if err := s.responseSchema(t, path, method, 200, "application/json").Validate(instance); err == nil {
			t.Errorf("%s accepted a wrong shape: %s", path, body)
		}
	}
	instance, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"id":"job-1","status":"done"}`))
	if s.responseSchema(t, "/videos/{jobId}", "GET", 200, "application/json").Validate(instance) == nil {
		t.Error("a video job without polling_url and with an unknown status was accepted")
	}
}
