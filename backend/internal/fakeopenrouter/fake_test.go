package fakeopenrouter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
)

// testClient makes the tests' requests (not http.DefaultClient's).
var testClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}

func startFake(t *testing.T, opts fakeopenrouter.Options) (*fakeopenrouter.Server, string) {
	t.Helper()
	opts.APIKey = "k"
	fake := fakeopenrouter.New(opts)
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(fake.Close)
	return fake, srv.URL
}

func TestAuthenticationIsRequired(t *testing.T) {
	_, base := startFake(t, fakeopenrouter.Options{})
	for _, auth := range []string{"", "Bearer", "Bearer wrong", "k"} {
		req, _ := http.NewRequest("GET", base+"/api/v1/models", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 401 || body.Error.Code != 401 || body.Error.Message == "" {
			t.Errorf("Authorization %q: %d %+v", auth, resp.StatusCode, body)
		}
	}
}

func TestServedAtRootAndUnderAPIPrefix(t *testing.T) {
	_, base := startFake(t, fakeopenrouter.Options{})
	for _, path := range []string{"/models", "/api/v1/models"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer k")
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Data []struct {
				Architecture struct {
					OutputModalities []string `json:"output_modalities"`
				} `json:"architecture"`
			} `json:"data"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(list.Data) == 0 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		for _, m := range list.Data { // without output_modalities, upstream lists text models only
			if !strings.Contains(strings.Join(m.Architecture.OutputModalities, ","), "text") {
				t.Errorf("%s: default listing has a non-text model %v", path, m.Architecture.OutputModalities)
			}
		}
	}
}

func TestFailureSwitches(t *testing.T) {
	fake, base := startFake(t, fakeopenrouter.Options{})
	chat := `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

	// A prompt marker, as it would arrive through the gateway.
	resp, _ := call(t, base, "POST", "/chat/completions",
		`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"please [fake-fail:429] now"}]}`, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("marker: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// A header, with its own Retry-After.
	resp, _ = call(t, base, "GET", "/videos/models", "", map[string]string{"X-Fake-Fail": "429", "X-Fake-Retry-After": "3"})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("header: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Rules over the control endpoint: scoped to a path, counted.
	control(t, base, "POST", `{"mode":"500","path":"/chat","times":2}`, http.StatusCreated)
	control(t, base, "POST", `{"mode":"nonsense"}`, http.StatusBadRequest)
	if resp, _ := call(t, base, "GET", "/models", "", nil); resp.StatusCode != 200 {
		t.Errorf("a /chat rule failed /models: %d", resp.StatusCode)
	}
	for i, want := range []int{500, 500, 200} {
		if resp, _ := call(t, base, "POST", "/chat/completions", chat, nil); resp.StatusCode != want {
			t.Errorf("chat call %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	fake.Fail(fakeopenrouter.FailureRule{Mode: fakeopenrouter.FailPaymentRequired})
	if resp, _ := call(t, base, "GET", "/models", "", nil); resp.StatusCode != 402 {
		t.Errorf("until cleared: %d", resp.StatusCode)
	}
	control(t, base, "DELETE", "", http.StatusNoContent)
	if resp, _ := call(t, base, "GET", "/models", "", nil); resp.StatusCode != 200 || len(fake.Failures()) != 0 {
		t.Errorf("after clearing: %d", resp.StatusCode)
	}
	// A mid-stream rule waits for a streaming chat instead of being used up.
	fake.Fail(fakeopenrouter.FailureRule{Mode: fakeopenrouter.FailMidStream, Times: 1})
	if resp, _ := call(t, base, "POST", "/chat/completions", chat, nil); resp.StatusCode != 200 || len(fake.Failures()) != 1 {
		t.Errorf("a non-streaming chat consumed the mid-stream rule")
	}
	// Malformed: a 200 whose body is not JSON.
	resp, body := call(t, base, "GET", "/models", "", map[string]string{"X-Fake-Fail": "malformed"})
	if resp.StatusCode != 200 || json.Valid(body) {
		t.Errorf("malformed: %d %s", resp.StatusCode, body)
	}
}

func control(t *testing.T, base, method, body string, want int) {
	t.Helper()
	req, _ := http.NewRequest(method, base+"/_fake/failures", strings.NewReader(body))
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s /_fake/failures %s: %d, want %d", method, body, resp.StatusCode, want)
	}
}

func TestRecordsRequestsAndDisconnects(t *testing.T) {
	fake, base := startFake(t, fakeopenrouter.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/chat/completions",
		strings.NewReader(`{"model":"openai/gpt-4o-mini","user":"abc","messages":[]}`))
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("X-Fake-Fail", "hang")
	if _, err := testClient.Do(req); err == nil {
		t.Fatal("a hanging request answered")
	}
	waitCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	got, err := fake.WaitRequest(waitCtx, func(r fakeopenrouter.Request) bool { return r.Done })
	if err != nil {
		t.Fatal(err)
	}
	body, _ := got.JSONBody()
	if !got.Disconnected || got.Path != "/api/v1/chat/completions" || got.Header.Get("Authorization") != "Bearer k" || body["user"] != "abc" {
		t.Errorf("recorded %+v", got)
	}

	// The same record over HTTP, then forgotten.
	resp, err := testClient.Get(base + "/_fake/requests")
	if err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Requests []fakeopenrouter.Request `json:"requests"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	if len(listed.Requests) != 1 || !listed.Requests[0].Disconnected {
		t.Errorf("GET /_fake/requests: %+v", listed.Requests)
	}
	del, _ := http.NewRequest("DELETE", base+"/_fake/requests", nil)
	if resp, err := testClient.Do(del); err != nil || resp.StatusCode != http.StatusNoContent || len(fake.Requests()) != 0 {
		t.Errorf("reset: %v %v", resp, err)
	}
}

func TestVideoJobsProgress(t *testing.T) {
	var now atomic.Int64
	now.Store(1_800_000_000)
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	_, base := startFake(t, fakeopenrouter.Options{VideoAfter: time.Minute, AbsolutePollingURL: true, Now: clock})
	_, raw := call(t, base, "POST", "/videos", `{"model":"google/veo-3.1","prompt":"duck"}`, nil)
	var job struct {
		ID         string `json:"id"`
		PollingURL string `json:"polling_url"`
		Status     string `json:"status"`
	}
	_ = json.Unmarshal(raw, &job)
	if job.Status != "pending" || job.PollingURL != base+"/api/v1/videos/"+job.ID {
		t.Fatalf("submitted %s", raw)
	}
	poll := func() string {
		_, raw := call(t, base, "GET", "/videos/"+job.ID, "", nil)
		return gjson(raw, "status")
	}
	if got := poll(); got != "in_progress" {
		t.Errorf("before the minute: %s", got)
	}
	now.Add(60)
	if got := poll(); got != "completed" {
		t.Errorf("after the minute: %s", got)
	}
}

func gjson(raw []byte, field string) string {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	s, _ := m[field].(string)
	return s
}
