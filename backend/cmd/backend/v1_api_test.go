package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// v1 posts body to a /v1 path with bearer and returns status, headers and body.
func (ts *testServer) v1(method, path, bearer, body string) (int, http.Header, string) {
	ts.t.Helper()
	return ts.do(method, path, "application/json", body, "Authorization", "Bearer "+bearer)
}

// openAIError decodes OpenAI's error envelope, failing unless it is one.
func openAIError(t *testing.T, header http.Header, body string) api.OpenAIError {
	t.Helper()
	if !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		t.Fatalf("content type %q: %s", header.Get("Content-Type"), body)
	}
	var e struct {
		Error *api.OpenAIError `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not OpenAI's error envelope: %s", body)
	}
	if !strings.Contains(body, `"param":`) || !strings.Contains(body, `"code":`) {
		t.Fatalf("the envelope lacks param or code: %s", body)
	}
	return *e.Error
}

// sseEvents splits an event stream into its data payloads.
func sseEvents(body string) []string {
	var out []string
	for line := range strings.SplitSeq(body, "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			out = append(out, data)
		}
	}
	return out
}

func TestV1ChatCompletionsInOpenAIShapes(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{})
	user, _ := ts.newUser("v1@example.com")
	key := newKey(t, user, api.ScopeAI).Secret

	// Models, in OpenAI's list shape.
	status, _, body := ts.v1("GET", "/v1/models", key, "")
	var models api.OpenAIModelList
	if err := json.Unmarshal([]byte(body), &models); status != 200 || err != nil || models.Object != "list" || len(models.Data) < 3 ||
		models.Data[0].Object != "model" || models.Data[0].OwnedBy == "" || models.Data[0].Created == 0 {
		t.Fatalf("models: %d %s", status, body)
	}

	// A whole answer: chat.completion with choices; content parts and the developer role pass.
	status, _, body = ts.v1("POST", "/v1/chat/completions", key, `{"model":"openai/gpt-4o-mini","max_completion_tokens":50,
		"messages":[{"role":"developer","content":"be brief"},{"role":"system","content":[{"type":"text","text":"you are a duck"}]},
		{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],
		"temperature":0.5,"top_p":0.9,"seed":7,"stop":["\n\n"],"response_format":{"type":"text"},"user":"end-user-42"}`)
	var completion api.Completion
	if err := json.Unmarshal([]byte(body), &completion); status != 200 || err != nil || completion.Object != "chat.completion" ||
		len(completion.Choices) != 1 || completion.Choices[0].Message.Content == nil ||
		!strings.Contains(*completion.Choices[0].Message.Content, "what is this?") || completion.Usage == nil || completion.Usage.TotalTokens == 0 {
		t.Fatalf("completion: %d %s", status, body)
	}
	sent := fake.Requests()
	upstream := string(sent[len(sent)-1].Body)
	for _, want := range []string{`"developer"`, `"image_url"`, `"max_completion_tokens":50`, `"seed":7`, `"response_format"`, `"stop"`} {
		if !strings.Contains(upstream, want) {
			t.Errorf("upstream request lacks %s: %s", want, upstream)
		}
	}
	if strings.Contains(upstream, "end-user-42") || !strings.Contains(upstream, `"user":"`) {
		t.Errorf("the caller's user went upstream instead of the pseudonym: %s", upstream)
	}

	// A stream: chunks, no usage chunk unless asked, [DONE].
	stream := func(extra string) []string {
		status, header, body := ts.v1("POST", "/v1/chat/completions", key,
			`{"model":"openai/gpt-4o-mini","stream":true`+extra+`,"messages":[{"role":"user","content":"hi there"}]}`)
		if status != 200 || !strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("stream: %d %s", status, body)
		}
		return sseEvents(body)
	}
	plain := stream("")
	if plain[len(plain)-1] != "[DONE]" || !strings.Contains(plain[0], `"chat.completion.chunk"`) || strings.Contains(strings.Join(plain, ""), `"usage"`) {
		t.Fatalf("stream without include_usage: %v", plain)
	}
	withUsage := stream(`,"stream_options":{"include_usage":true}`)
	var last api.CompletionChunk
	if err := json.Unmarshal([]byte(withUsage[len(withUsage)-2]), &last); err != nil || len(last.Choices) != 0 || last.Usage == nil {
		t.Fatalf("stream with include_usage: last chunk %s", withUsage[len(withUsage)-2])
	}

	// Tools: the assistant's call, then the tool's answer.
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
		"properties":{"location":{"type":"string"}},"required":["location"]}}}],"tool_choice":"auto"`
	status, _, body = ts.v1("POST", "/v1/chat/completions", key, `{"model":"openai/gpt-4o-mini",`+tools+`,"messages":[{"role":"user","content":"Paris"}]}`)
	completion = api.Completion{}
	if err := json.Unmarshal([]byte(body), &completion); status != 200 || err != nil || len(completion.Choices[0].Message.ToolCalls) != 1 ||
		*completion.Choices[0].FinishReason != "tool_calls" || completion.Choices[0].Message.ToolCalls[0].Function.Arguments != `{"location":"Paris"}` {
		t.Fatalf("tool call: %d %s", status, body)
	}
	call := completion.Choices[0].Message.ToolCalls[0]
	status, _, body = ts.v1("POST", "/v1/chat/completions", key, `{"model":"openai/gpt-4o-mini",`+tools+`,"messages":[
		{"role":"user","content":"Paris"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"`+call.ID+`","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"`+call.ID+`","content":"sunny, 21 °C"}]}`)
	if status != 200 || !strings.Contains(body, "sunny, 21 °C") {
		t.Fatalf("after the tool: %d %s", status, body)
	}
	streamed := stream(`,` + tools)
	if joined := strings.Join(streamed, "\n"); !strings.Contains(joined, `"tool_calls"`) || !strings.Contains(joined, `"finish_reason":"tool_calls"`) {
		t.Fatalf("streamed tool call: %v", streamed)
	}

	// The calls were recorded like /ai's.
	report, err := ts.admin.Usage(context.Background(), client.UsageParams{Days: 1, GroupBy: "user"})
	if err != nil || len(report.Rows) != 1 || report.Rows[0].Requests != 6 {
		t.Fatalf("usage records of /v1: %+v, %v", report, err)
	}
}

func TestV1RefusesWhatItDoesNotSupportInOpenAIsEnvelope(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{})
	user, _ := ts.newUser("v1errors@example.com")
	token := user.Token()
	chat := func(members string) string {
		return `{"model":"openai/gpt-4o-mini",` + members + `"messages":[{"role":"user","content":"hi"}]}`
	}
	for _, tc := range []struct {
		name, body string
		status     int
		param      string
	}{
		{"an unknown member", chat(`"functions":[],`), 422, "functions"},
		{"n above 1", chat(`"n":2,`), 422, "n"},
		{"a wrong type", chat(`"temperature":"hot",`), 422, "temperature"},
		{"stream_options without stream", chat(`"stream_options":{"include_usage":true},`), 422, "stream_options"},
		{"an unknown role", `{"messages":[{"role":"robot","content":"hi"}]}`, 422, "messages[0].role"},
		{"a tool message without its call", `{"messages":[{"role":"tool","content":"x"}]}`, 422, "messages[0].tool_call_id"},
		{"an image in a system message", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x.test/a.png"}}]}]}`, 422, "messages[0].content[0].type"},
		{"an unknown part", `{"messages":[{"role":"user","content":[{"type":"hologram"}]}]}`, 422, "messages[0].content[0].type"},
		{"a malformed tool", chat(`"tools":[{"type":"function"}],`), 422, "tools[0]"},
		{"no messages", `{"model":"openai/gpt-4o-mini"}`, 422, "messages"},
		{"not JSON", `{"model":`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, header, body := ts.v1("POST", "/v1/chat/completions", token, tc.body)
			e := openAIError(t, header, body)
			if status != tc.status || e.Type != "invalid_request_error" || (tc.param != "" && (e.Param == nil || *e.Param != tc.param)) {
				t.Fatalf("%d %s, want %d with param %q", status, body, tc.status, tc.param)
			}
		})
	}
	status, header, body := ts.do("GET", "/v1/models", "", "")
	if e := openAIError(t, header, body); status != 401 || *e.Code != "invalid_api_key" {
		t.Fatalf("no credential: %d %s", status, body)
	}
	status, header, body = ts.v1("POST", "/v1/embeddings", token, `{}`)
	if e := openAIError(t, header, body); status != 404 || !strings.Contains(e.Message, "no endpoint") {
		t.Fatalf("an unknown /v1 path: %d %s", status, body)
	}
	status, header, body = ts.v1("GET", "/v1/chat/completions", token, ``)
	if openAIError(t, header, body); status != 405 {
		t.Fatalf("a wrong method: %d %s", status, body)
	}
	// A failure after the stream began arrives in the same envelope.
	status, _, body = ts.v1("POST", "/v1/chat/completions", token,
		`{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi [fake-fail:error-mid-stream]"}]}`)
	events := sseEvents(body)
	if status != 200 || len(events) < 2 || !strings.Contains(events[len(events)-2], `"error":{"message":"the AI provider failed`) ||
		!strings.Contains(events[len(events)-2], `"type":"server_error"`) || events[len(events)-1] != "[DONE]" {
		t.Fatalf("mid-stream failure: %d %v", status, events)
	}
	// An upstream failure before the answer keeps its status.
	status, header, body = ts.v1("POST", "/v1/chat/completions", token,
		`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi [fake-fail:429]"}]}`)
	if e := openAIError(t, header, body); status != 429 || header.Get("Retry-After") == "" || *e.Code != "rate_limit_exceeded" {
		t.Fatalf("upstream 429: %d %v %s", status, header, body)
	}
}

func TestV1ImagesGenerationsAnswersBase64(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{})
	user, _ := ts.newUser("v1images@example.com")
	key := newKey(t, user, api.ScopeAI).Secret
	for _, model := range []string{"google/gemini-2.5-flash-image", "black-forest-labs/flux.2-pro"} {
		status, _, body := ts.v1("POST", "/v1/images/generations", key,
			`{"model":"`+model+`","prompt":"a duck","size":"1792x1024","response_format":"b64_json","n":1}`)
		var out api.ImagesResponse
		if err := json.Unmarshal([]byte(body), &out); status != 200 || err != nil || len(out.Data) != 1 || out.Created == 0 {
			t.Fatalf("%s: %d %.300s", model, status, body)
		}
		png, err := base64.StdEncoding.DecodeString(out.Data[0].B64JSON)
		if err != nil || !bytes.Equal(png, fake.SamplePNG()) {
			t.Fatalf("%s: the image is not the fake's PNG (%v)", model, err)
		}
	}
	for body, param := range map[string]string{
		`{"prompt":"a duck","response_format":"url"}`: "response_format",
		`{"prompt":"a duck","n":2}`:                   "n",
		`{"prompt":"a duck","quality":"hd"}`:          "quality",
		`{"prompt":"a duck","size":"huge"}`:           "size",
		`{"prompt":"a duck","size":"1000x100"}`:       "size",
		`{"prompt":""}`:                               "prompt",
	} {
		status, header, raw := ts.v1("POST", "/v1/images/generations", key, body)
		if e := openAIError(t, header, raw); status != 422 || e.Param == nil || *e.Param != param {
			t.Errorf("%s: %d %s, want 422 naming %s", body, status, raw, param)
		}
	}
}
