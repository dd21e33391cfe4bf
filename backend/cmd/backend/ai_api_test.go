package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// testAPIKey is the OpenRouter key of the AI tests; no response may hold it.
const testAPIKey = "sk-or-v1-test-SECRET-4f1c2a9e"

// newFake serves a fake OpenRouter accepting testAPIKey.
func newFake(t *testing.T, opts fakeopenrouter.Options) (*fakeopenrouter.Server, string) {
	t.Helper()
	opts.APIKey = testAPIKey
	fake := fakeopenrouter.New(opts)
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(func() { fake.Close(); srv.Close() })
	return fake, srv.URL
}

// aiEnv configures a backend to use the fake at fakeURL.
func aiEnv(fakeURL string, extra ...string) map[string]string {
	env := map[string]string{"OPENROUTER_BASE_URL": fakeURL + "/api/v1", "OPENROUTER_API_KEY": testAPIKey}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func newAIServer(t *testing.T, opts fakeopenrouter.Options, extra ...string) (*testServer, *fakeopenrouter.Server) {
	t.Helper()
	fake, url := newFake(t, opts)
	return newTestServer(t, aiEnv(url, extra...)), fake
}

func TestAIWithoutKeyAnswers503AndTheRestWorks(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	user, _ := ts.newUser("nokey@example.com")
	ctx := context.Background()
	calls := map[string]func() error{
		"models": func() error { _, err := user.Models(ctx, ""); return err },
		"chat": func() error {
			_, err := user.Chat(ctx, api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "hi"}}})
			return err
		},
		"stream": func() error {
			_, err := user.ChatStream(ctx, api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "hi"}}})
			return err
		},
		"text":  func() error { _, err := user.GenerateText(ctx, api.TextRequest{Prompt: "hi"}); return err },
		"image": func() error { _, err := user.GenerateImage(ctx, api.ImageRequest{Prompt: "a duck"}); return err },
		"video": func() error { _, err := user.GenerateVideo(ctx, api.VideoRequest{Prompt: "a duck"}); return err },
		"jobs":  func() error { _, err := user.VideoJobs(ctx, 0, 0); return err },
		"job":   func() error { _, err := user.VideoJob(ctx, "0190e7a4-0000-7000-8000-000000000000"); return err },
		"frames": func() error {
			_, err := user.GenerateVideoFromImage(ctx, api.VideoFromImageRequest{ImageURL: "https://example.com/a.png"})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			p := wantStatus(t, call(), http.StatusServiceUnavailable)
			if !strings.Contains(p.Detail, "OPENROUTER_API_KEY") {
				t.Fatalf("the 503 does not say how to configure AI: %q", p.Detail)
			}
		})
	}
	if _, err := user.Me(ctx); err != nil {
		t.Fatalf("the rest of the backend: %v", err)
	}
	stats, err := ts.admin.Stats(ctx)
	if err != nil || stats.AI.Requests24h != 0 || stats.AI.ByModel == nil {
		t.Fatalf("stats without AI: %+v, %v", stats, err)
	}
	if report, err := ts.admin.Usage(ctx, client.UsageParams{}); err != nil || report.Days != 30 || report.GroupBy != "model" {
		t.Fatalf("usage without AI: %+v, %v", report, err)
	}
}

func TestModelsMergeCatalogueFilterAndAreFetchedOnce(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{})
	user, _ := ts.newUser("models@example.com")
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := user.Models(ctx, ""); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	all, err := user.Models(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := countRequests(fake, "GET", "/api/v1/models"); n != 1 {
		t.Fatalf("21 listings fetched GET /models %d times, want 1 (cached, single flight)", n)
	}
	ids := modelIDs(all.Data)
	for _, want := range []string{"openai/gpt-4o-mini", "google/gemini-2.5-flash-image", "google/veo-3.1"} {
		if !slices.Contains(ids, want) {
			t.Fatalf("%s missing from %v", want, ids)
		}
	}
	for modality, want := range map[string][]string{
		api.ModalityVideo: {"google/veo-3.1", "openai/sora-2"},
		api.ModalityImage: {"google/gemini-2.5-flash-image", "black-forest-labs/flux.2-pro"},
	} {
		list, err := user.Models(ctx, modality)
		if err != nil {
			t.Fatal(err)
		}
		if got := modelIDs(list.Data); !slices.Equal(got, want) {
			t.Fatalf("modality %s: %v, want %v", modality, got, want)
		}
	}
	video, _ := user.Models(ctx, api.ModalityVideo)
	if veo := video.Data[0]; !slices.Equal(veo.SupportedDurations, []int{4, 6, 8}) || veo.OutputModalities[0] != "video" {
		t.Fatalf("video model %+v", veo)
	}
	text, _ := user.Models(ctx, api.ModalityText)
	if slices.Contains(modelIDs(text.Data), "black-forest-labs/flux.2-pro") || text.Data[0].Pricing["prompt"] == "" {
		t.Fatalf("text models %+v", text.Data)
	}
	status, header, body := ts.do("GET", "/ai/models?modality=audio", "", "", "Authorization", "Bearer "+tokenOf(t, ts, "models@example.com"))
	if status != http.StatusUnprocessableEntity || problemOf(t, header, body).Errors[0].Field != "modality" {
		t.Fatalf("modality=audio → %d %s", status, body)
	}
}

func TestChatAnswersAndValidates(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{})
	user, userID := ts.newUser("chat@example.com")
	ctx := context.Background()
	out, err := user.Chat(ctx, api.ChatRequest{Messages: []api.ChatMessage{
		{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hello duck"},
		{Role: "assistant", Content: "Quack."}, {Role: "user", Content: "and again"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Message.Content, `"and again"`) || out.Message.Role != "assistant" ||
		out.Model != "openai/gpt-4o-mini" || out.Usage.TotalTokens == 0 || out.ID == "" {
		t.Fatalf("answer %+v", out)
	}
	sent, _ := fake.LastRequest("/chat/completions")
	body, _ := sent.JSONBody()
	if hashed, _ := body["user"].(string); hashed == "" || hashed == userID || strings.Contains(string(sent.Body), userID) {
		t.Fatalf("upstream user field %q must be a hash of the user id", hashed)
	}
	if msgs := body["messages"].([]any); len(msgs) != 4 {
		t.Fatalf("sent %d messages", len(msgs))
	}

	for _, tc := range []struct {
		name  string
		req   api.ChatRequest
		field string
	}{
		{"no messages", api.ChatRequest{}, "messages"},
		{"bad role", api.ChatRequest{Messages: []api.ChatMessage{{Role: "tool", Content: "x"}}}, "messages[0].role"},
		{"empty content", api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "hi"}, {Role: "user", Content: "  "}}}, "messages[1].content"},
		{"too long", api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: strings.Repeat("x", 300<<10)}}}, "messages"},
		{"temperature", api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "x"}}, Temperature: ptr(3.0)}, "temperature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := user.Chat(ctx, tc.req)
			p := wantStatus(t, err, http.StatusUnprocessableEntity)
			if len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
				t.Fatalf("errors %+v, want field %s", p.Errors, tc.field)
			}
		})
	}
}

func TestChatStreamArrivesIncrementally(t *testing.T) {
	t.Parallel()
	const delay = 40 * time.Millisecond
	ts, _ := newAIServer(t, fakeopenrouter.Options{ChunkDelay: delay})
	user, _ := ts.newUser("stream@example.com")
	start := time.Now()
	stream, err := user.ChatStream(context.Background(), api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "tell me a story"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var text strings.Builder
	var firstText time.Duration
	chunks := 0
	var usage *api.Usage
	for {
		chunk, err := stream.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks++
		if len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" && firstText == 0 {
			firstText = time.Since(start)
		}
		if len(chunk.Choices) > 0 {
			text.WriteString(chunk.Choices[0].Delta.Content)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
	}
	total := time.Since(start)
	// The fake pauses before every event after the first: ~20 events.
	if chunks < 10 || total < time.Duration(chunks-1)*delay {
		t.Fatalf("%d chunks in %v", chunks, total)
	}
	if firstText > total/3 {
		t.Fatalf("the first words arrived after %v of %v: the answer was buffered", firstText, total)
	}
	if !strings.HasPrefix(text.String(), `You said: "tell me a story".`) || usage == nil || usage.CompletionTokens == 0 {
		t.Fatalf("text %q usage %+v", text.String(), usage)
	}
}

func TestChatStreamHeadersAndClientDisconnectCancelsUpstream(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{ChunkDelay: 150 * time.Millisecond})
	token := tokenOf(t, ts, "leaver@example.com")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/ai/chat",
		strings.NewReader(`{"stream": true, "messages": [{"role": "user", "content": "a long answer please"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := ts.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for header, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(header); got != want {
			t.Fatalf("%s = %q, want %q", header, got, want)
		}
	}
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("the stream is wrapped: %v", resp.Header)
	}
	first := make([]byte, 64)
	if n, err := resp.Body.Read(first); err != nil || !bytes.HasPrefix(first[:n], []byte("data: {")) {
		t.Fatalf("first bytes %q, %v", first[:n], err)
	}
	cancel()
	waitCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if _, err := fake.WaitRequest(waitCtx, func(r fakeopenrouter.Request) bool {
		return strings.HasSuffix(r.Path, "/chat/completions") && r.Disconnected
	}); err != nil {
		t.Fatalf("upstream was not canceled when the client left: %v", err)
	}
	// The abandoned call is recorded as a client that left (499).
	report := waitUsage(t, ts, client.UsageParams{GroupBy: "model"}, 1)
	if report.Rows[0].Errors != 1 {
		t.Fatalf("the canceled stream is not recorded as failed: %+v", report.Rows)
	}
}

func TestChatStreamReportsAnUpstreamErrorMidStream(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{})
	user, _ := ts.newUser("midstream@example.com")
	stream, err := user.ChatStream(context.Background(), api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "[fake-fail:error-mid-stream] go"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var streamErr *client.StreamError
	chunks := 0
	for {
		_, err := stream.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.As(err, &streamErr) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks++
	}
	if chunks == 0 || streamErr == nil || streamErr.Code != http.StatusBadGateway || streamErr.Message == "" {
		t.Fatalf("%d chunks, then error %+v", chunks, streamErr)
	}
}

func TestGenerateTextSendsTheSystemPrompt(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{})
	user, _ := ts.newUser("text@example.com")
	ctx := context.Background()
	out, err := user.GenerateText(ctx, api.TextRequest{Prompt: "name a duck", SystemPrompt: "You name ducks.",
		Model: "anthropic/claude-sonnet-4.5", MaxTokens: ptr(50)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Text, "name a duck") || out.Model != "anthropic/claude-sonnet-4.5" || out.Usage.PromptTokens == 0 {
		t.Fatalf("answer %+v", out)
	}
	sent, _ := fake.LastRequest("/chat/completions")
	var body struct {
		Messages  []api.ChatMessage `json:"messages"`
		MaxTokens int               `json:"max_tokens"`
	}
	_ = json.Unmarshal(sent.Body, &body)
	if len(body.Messages) != 2 || body.Messages[0] != (api.ChatMessage{Role: "system", Content: "You name ducks."}) ||
		body.Messages[1].Role != "user" || body.MaxTokens != 50 {
		t.Fatalf("sent %+v", body)
	}
	_, err = user.GenerateText(ctx, api.TextRequest{Prompt: " "})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	_, err = user.GenerateText(ctx, api.TextRequest{Prompt: "x", Model: "no/such-model"})
	if p := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(p.Detail, "not a valid model") {
		t.Fatalf("upstream's reason is not passed on: %q", p.Detail)
	}
}

func TestGenerateImageThroughChatAndTheImagesEndpoint(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{})
	user, _ := ts.newUser("images@example.com")
	ctx := context.Background()
	png := "data:image/png;base64," + base64.StdEncoding.EncodeToString(fake.SamplePNG())

	out, err := user.GenerateImage(ctx, api.ImageRequest{Prompt: "a yellow duck", AspectRatio: "16:9"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Model != "google/gemini-2.5-flash-image" || len(out.Images) != 1 || out.Images[0].URL != png || out.Text == "" {
		t.Fatalf("chat image %+v", out)
	}
	sent, _ := fake.LastRequest("/chat/completions")
	var body struct {
		Modalities  []string          `json:"modalities"`
		ImageConfig map[string]string `json:"image_config"`
	}
	_ = json.Unmarshal(sent.Body, &body)
	if !slices.Equal(body.Modalities, []string{"image", "text"}) || body.ImageConfig["aspect_ratio"] != "16:9" {
		t.Fatalf("sent %+v", body)
	}

	out, err = user.GenerateImage(ctx, api.ImageRequest{Prompt: "a duck", Model: "black-forest-labs/flux.2-pro"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) != 1 || out.Images[0].URL != png || countRequests(fake, "POST", "/api/v1/images") != 1 {
		t.Fatalf("images endpoint %+v", out)
	}

	_, err = user.GenerateImage(ctx, api.ImageRequest{Prompt: "a duck", AspectRatio: "7:5"})
	p := wantStatus(t, err, http.StatusUnprocessableEntity)
	if p.Errors[0].Field != "aspect_ratio" || !strings.Contains(p.Errors[0].Message, "16:9") {
		t.Fatalf("aspect ratio problem %+v", p.Errors)
	}
	_, err = user.GenerateImage(ctx, api.ImageRequest{Prompt: "a duck", Model: "openai/gpt-4o-mini"})
	if p := wantStatus(t, err, http.StatusUnprocessableEntity); p.Errors[0].Field != "model" {
		t.Fatalf("text model for images: %+v", p.Errors)
	}
}

func TestUpstreamFailuresMapToGatewayStatuses(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{})
	user, _ := ts.newUser("failures@example.com")
	ctx := context.Background()
	for _, tc := range []struct {
		mode   string
		status int
	}{
		{"401", http.StatusBadGateway},
		{"402", http.StatusBadGateway},
		{"429", http.StatusTooManyRequests},
		{"500", http.StatusBadGateway},
		{"malformed", http.StatusBadGateway},
		{"error-in-200", http.StatusBadGateway},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			_, err := user.GenerateText(ctx, api.TextRequest{Prompt: "[fake-fail:" + tc.mode + "] hi"})
			p := wantStatus(t, err, tc.status)
			if tc.status == http.StatusTooManyRequests && p.RetryAfter != fakeopenrouter.DefaultRetryAfter {
				t.Fatalf("Retry-After %d, want %d", p.RetryAfter, fakeopenrouter.DefaultRetryAfter)
			}
			_, err = user.Chat(ctx, api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "[fake-fail:" + tc.mode + "]"}}})
			wantStatus(t, err, tc.status)
		})
	}
	// Twelve failed calls are recorded as such.
	report := waitUsage(t, ts, client.UsageParams{GroupBy: "user"}, 12)
	if report.Rows[0].Errors != 12 {
		t.Fatalf("usage %+v", report.Rows)
	}
}

func TestHangingUpstreamTimesOutWith504(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{}, "AI_TIMEOUT", "1s")
	user, _ := ts.newUser("hang@example.com")
	start := time.Now()
	_, err := user.GenerateText(context.Background(), api.TextRequest{Prompt: "[fake-fail:hang]"})
	wantStatus(t, err, http.StatusGatewayTimeout)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	_, err = user.ChatStream(context.Background(), api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "[fake-fail:hang]"}}})
	wantStatus(t, err, http.StatusGatewayTimeout)
}

func TestTheKeyGoesUpstreamAndNeverComesBack(t *testing.T) {
	t.Parallel()
	fake, url := newFake(t, fakeopenrouter.Options{})
	ts := newTestServer(t, aiEnv(url))
	seen := &capture{}
	hc := &http.Client{Transport: &capturingTransport{next: ts.http.Transport, seen: seen}}
	ts.register("keys@example.com", "password-keys@example.com")
	pair, err := client.New(ts.URL, client.WithHTTPClient(hc)).Login(context.Background(),
		api.LoginRequest{Email: "keys@example.com", Password: "password-keys@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	user := client.New(ts.URL, client.WithHTTPClient(hc)).WithToken(pair.AccessToken)
	ctx := context.Background()
	_, _ = user.Models(ctx, "")
	_, _ = user.Chat(ctx, api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "what is your key?"}}})
	for _, mode := range []string{"401", "500", "malformed", "error-in-200", "429"} {
		_, _ = user.GenerateText(ctx, api.TextRequest{Prompt: "[fake-fail:" + mode + "]"})
	}
	if s, err := user.ChatStream(ctx, api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "[fake-fail:error-mid-stream]"}}}); err == nil {
		for _, err := s.Next(); !errors.Is(err, io.EOF); _, err = s.Next() {
		}
		s.Close()
	}
	_, _ = user.GenerateImage(ctx, api.ImageRequest{Prompt: "a duck"})
	job, err := user.GenerateVideo(ctx, api.VideoRequest{Prompt: "a duck"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = user.VideoJob(ctx, job.ID)
	if seen.count() < 12 {
		t.Fatalf("only %d responses captured", seen.count())
	}
	if where := seen.find(testAPIKey); where != "" {
		t.Fatalf("the API key leaked in %s", where)
	}
	for _, r := range fake.Requests() {
		if r.Header.Get("Authorization") != "Bearer "+testAPIKey {
			t.Fatalf("%s %s went upstream without the key", r.Method, r.Path)
		}
	}
}

func TestVideoValidationAndImages(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{})
	user, _ := ts.newUser("frames@example.com")
	ctx := context.Background()
	pngURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(fake.SamplePNG())
	jpegBytes := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{1}, 64)...)

	for _, tc := range []struct {
		name, field, mention string
		req                  api.VideoRequest
	}{
		{"duration", "duration", "4, 6, 8", api.VideoRequest{Prompt: "x", Duration: ptr(5)}},
		{"resolution", "resolution", "720p, 1080p", api.VideoRequest{Prompt: "x", Resolution: "4k"}},
		{"aspect ratio", "aspect_ratio", "16:9, 9:16", api.VideoRequest{Prompt: "x", AspectRatio: "1:1"}},
		{"model", "model", "google/veo-3.1", api.VideoRequest{Prompt: "x", Model: "openai/gpt-4o-mini"}},
		{"prompt", "prompt", "empty", api.VideoRequest{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := user.GenerateVideo(ctx, tc.req)
			p := wantStatus(t, err, http.StatusUnprocessableEntity)
			if p.Errors[0].Field != tc.field || !strings.Contains(p.Errors[0].Message, tc.mention) {
				t.Fatalf("errors %+v", p.Errors)
			}
		})
	}
	for _, tc := range []struct{ name, url, mention string }{
		{"not an image", "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("GIF89a not a png at all")), "PNG, JPEG or WebP"},
		{"declared png, holds jpeg", "data:image/png;base64," + base64.StdEncoding.EncodeToString(jpegBytes), "image/jpeg"},
		{"gif type", "data:image/gif;base64,R0lGODlh", "allowed types"},
		{"plain http", "http://example.com/duck.png", "https"},
		{"bad base64", "data:image/png;base64,%%%", "base64"},
		{"too big", "data:image/png;base64," + base64.StdEncoding.EncodeToString(
			append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 5<<20)...)), "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := user.GenerateVideoFromImage(ctx, api.VideoFromImageRequest{VideoRequest: api.VideoRequest{Prompt: "move"}, ImageURL: tc.url})
			p := wantStatus(t, err, http.StatusUnprocessableEntity)
			if p.Errors[0].Field != "image_url" || !strings.Contains(p.Errors[0].Message, tc.mention) {
				t.Fatalf("errors %+v", p.Errors)
			}
		})
	}
	// A body over MAX_IMAGE_BYTES is refused before it is read.
	_, err := user.GenerateVideoFromImage(ctx, api.VideoFromImageRequest{ImageURL: "data:image/png;base64," + strings.Repeat("A", 11<<20)})
	wantStatus(t, err, http.StatusRequestEntityTooLarge)
	if n := countRequests(fake, "POST", "/api/v1/videos"); n != 0 {
		t.Fatalf("%d invalid submissions reached upstream", n)
	}

	job, err := user.GenerateVideoFromImage(ctx, api.VideoFromImageRequest{
		VideoRequest: api.VideoRequest{Prompt: "the duck waddles", Duration: ptr(4), Resolution: "720p"}, ImageURL: pngURL})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != api.VideoPending || job.Model != "google/veo-3.1" {
		t.Fatalf("job %+v", job)
	}
	sent, _ := fake.LastRequest("/videos")
	var body struct {
		FrameImages []struct {
			FrameType string `json:"frame_type"`
			ImageURL  struct {
				URL string `json:"url"`
			} `json:"image_url"`
		} `json:"frame_images"`
		Duration int `json:"duration"`
	}
	_ = json.Unmarshal(sent.Body, &body)
	if len(body.FrameImages) != 1 || body.FrameImages[0].FrameType != "first_frame" || body.FrameImages[0].ImageURL.URL != pngURL || body.Duration != 4 {
		t.Fatalf("sent %s", truncate(sent.Body))
	}
}

func TestVideoJobsFromSubmitToDownloadAcrossARestart(t *testing.T) {
	t.Parallel()
	fake, url := newFake(t, fakeopenrouter.Options{VideoPolls: 1})
	dir := t.TempDir()
	b := startBackend(t, dir, aiEnv(url))
	owner, ownerID := b.ts.newUser("owner@example.com")
	other, _ := b.ts.newUser("other@example.com")
	ctx := context.Background()
	var jobs []*api.VideoJob
	for _, prompt := range []string{"a duck swims", "[fake-fail:video-failed] a duck flies"} {
		job, err := owner.GenerateVideo(ctx, api.VideoRequest{Prompt: prompt, AspectRatio: "16:9"})
		if err != nil {
			t.Fatal(err)
		}
		if job.Status != api.VideoPending || job.ContentURL != "" {
			t.Fatalf("submitted %+v", job)
		}
		jobs = append(jobs, job)
	}
	if _, err := other.VideoJob(ctx, jobs[0].ID); !client.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("another user's job: %v", err)
	}
	if _, _, err := other.VideoContent(ctx, jobs[0].ID); !client.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("another user's video: %v", err)
	}
	list, err := owner.VideoJobs(ctx, 1, 0)
	if err != nil || list.Total != 2 || len(list.Items) != 1 || list.Items[0].ID != jobs[1].ID {
		t.Fatalf("newest first, paged: %+v, %v", list, err)
	}

	// Restart on the same database file: the jobs are still there and the
	// new backend polls them to the end by itself.
	if n := countPolls(fake); n != 0 {
		t.Fatalf("%d polls before the restart; the test wants the new backend to do them", n)
	}
	b.stop()
	b = startBackend(t, dir, aiEnv(url))
	// Nobody asks for the jobs: the new backend's poller finishes them.
	for _, job := range jobs {
		waitStored(t, b.ts.store, job.ID)
	}
	owner, _ = b.ts.login("owner@example.com", "password-owner@example.com")
	done := waitJob(t, owner, jobs[0].ID)
	if done.Status != api.VideoCompleted || done.ContentURL != "/generate/video/"+jobs[0].ID+"/content" || done.Cost == nil {
		t.Fatalf("completed job %+v", done)
	}
	failed := waitJob(t, owner, jobs[1].ID)
	if failed.Status != api.VideoFailed || failed.Error == "" {
		t.Fatalf("failed job %+v", failed)
	}
	body, contentType, err := owner.VideoContent(ctx, jobs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	video, _ := io.ReadAll(body)
	body.Close()
	if contentType != "video/mp4" || !bytes.Equal(video, fakeopenrouter.SampleMP4()) {
		t.Fatalf("downloaded %d bytes of %s", len(video), contentType)
	}
	if _, _, err := owner.VideoContent(ctx, jobs[1].ID); !client.IsStatus(err, http.StatusConflict) {
		t.Fatalf("content of a failed job: %v", err)
	}
	if job, err := b.ts.admin.VideoJob(ctx, jobs[0].ID); err != nil || job.Status != api.VideoCompleted {
		t.Fatalf("admin reads the job: %+v, %v", job, err)
	}
	for _, r := range fake.Requests() {
		if r.Method == "GET" && strings.Contains(r.Path, "/videos/job-") && r.Header.Get("Authorization") == "" {
			t.Fatalf("poll without the key: %s", r.Path)
		}
	}
	report := waitUsage(t, b.ts, client.UsageParams{GroupBy: "user"}, 2)
	if report.Rows[0].Key != ownerID || report.Rows[0].Cost == 0 {
		t.Fatalf("video usage %+v (the completed job's cost should reach it)", report.Rows)
	}
}

func TestVideoPollsAreRateLimitedPerJob(t *testing.T) {
	t.Parallel()
	ts, fake := newAIServer(t, fakeopenrouter.Options{VideoPolls: 1000})
	user, _ := ts.newUser("poller@example.com")
	ctx := context.Background()
	job, err := user.GenerateVideo(ctx, api.VideoRequest{Prompt: "slow duck"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := user.VideoJob(ctx, job.ID); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if polls := countPolls(fake); polls != 1 {
		t.Fatalf("60 reads polled upstream %d times, want 1", polls)
	}
	got, _ := user.VideoJob(ctx, job.ID)
	if got.Status != api.VideoInProgress {
		t.Fatalf("status %s", got.Status)
	}
}

func TestUsageIsRecordedAndReported(t *testing.T) {
	t.Parallel()
	ts, _ := newAIServer(t, fakeopenrouter.Options{})
	user, userID := ts.newUser("usage@example.com")
	ctx := context.Background()
	promptTokens := 0
	for range 3 {
		out, err := user.Chat(ctx, api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "one two three"}}})
		if err != nil {
			t.Fatal(err)
		}
		promptTokens += out.Usage.PromptTokens
	}
	if _, err := user.GenerateImage(ctx, api.ImageRequest{Prompt: "duck"}); err != nil {
		t.Fatal(err)
	}
	if _, err := user.GenerateText(ctx, api.TextRequest{Prompt: "[fake-fail:500]"}); err == nil {
		t.Fatal("the failure switch did not fail")
	}
	_, _ = user.Models(ctx, "") // listings are not generation calls
	byModel := waitUsage(t, ts, client.UsageParams{}, 5)
	rows := map[string]api.UsageRow{}
	for _, r := range byModel.Rows {
		rows[r.Key] = r
	}
	chat, image := rows["openai/gpt-4o-mini"], rows["google/gemini-2.5-flash-image"]
	if chat.Requests != 4 || chat.Errors != 1 || promptTokens == 0 || chat.PromptTokens != promptTokens || chat.Cost <= 0 || chat.AvgLatencyMS <= 0 || image.Requests != 1 {
		t.Fatalf("by model %+v", byModel.Rows)
	}
	byDay, err := ts.admin.Usage(ctx, client.UsageParams{Days: 1, GroupBy: "day"})
	if err != nil || len(byDay.Rows) != 1 || byDay.Rows[0].Key != time.Now().UTC().Format("2006-01-02") || byDay.Days != 1 {
		t.Fatalf("by day %+v, %v", byDay, err)
	}
	byUser, _ := ts.admin.Usage(ctx, client.UsageParams{GroupBy: "user"})
	if len(byUser.Rows) != 1 || byUser.Rows[0].Key != userID {
		t.Fatalf("by user %+v", byUser.Rows)
	}
	stats, err := ts.admin.Stats(ctx)
	if err != nil || stats.AI.Requests24h != 5 || len(stats.AI.ByModel) != 2 || stats.AI.ByModel[0].Model != "openai/gpt-4o-mini" ||
		stats.AI.ByModel[0].Tokens == 0 {
		t.Fatalf("stats %+v, %v", stats.AI, err)
	}
	for _, q := range []string{"days=0", "days=366", "days=x", "group_by=week"} {
		status, header, body := ts.do("GET", "/admin/usage?"+q, "", "", "Authorization", "Bearer "+adminToken(t, ts))
		if status != http.StatusUnprocessableEntity || len(problemOf(t, header, body).Errors) == 0 {
			t.Fatalf("%s → %d %s", q, status, body)
		}
	}
	if _, err := user.Usage(ctx, client.UsageParams{}); !client.IsStatus(err, http.StatusForbidden) {
		t.Fatalf("a user reads the usage report: %v", err)
	}
}

// --- helpers ---

func modelIDs(models []api.Model) []string {
	var ids []string
	for _, m := range models {
		ids = append(ids, m.ID)
	}
	return ids
}

func countRequests(fake *fakeopenrouter.Server, method, path string) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// tokenOf registers email (if needed) and returns an access token.
func tokenOf(t *testing.T, ts *testServer, email string) string {
	t.Helper()
	_, _ = ts.anon.Register(context.Background(), api.RegisterRequest{Email: email, Password: "password-" + email})
	_, pair := ts.loginPair(email, "password-"+email)
	return pair.AccessToken
}

func adminToken(t *testing.T, ts *testServer) string {
	t.Helper()
	_, pair := ts.loginPair(testAdminEmail, testAdminPassword)
	return pair.AccessToken
}

// waitUsage waits until the batched usage records hold at least n calls in
// total (they are written within about a second) and returns the report.
func waitUsage(t *testing.T, ts *testServer, p client.UsageParams, n int) *api.UsageReport {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		report, err := ts.admin.Usage(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, r := range report.Rows {
			total += r.Requests
		}
		if total >= n {
			return report
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage records: %d calls after 5s, want %d", total, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countPolls counts the upstream polls of video jobs.
func countPolls(fake *fakeopenrouter.Server) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Method == "GET" && strings.Contains(r.Path, "/videos/job-") && !strings.HasSuffix(r.Path, "/content") {
			n++
		}
	}
	return n
}

// waitStored waits until the database holds job id in a terminal state.
func waitStored(t *testing.T, st database, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		job, err := st.VideoJob(context.Background(), uuid.MustParse(id))
		if err != nil {
			t.Fatal(err)
		}
		if api.IsTerminal(job.Status) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s in the database", id, job.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitJob reads a job until it is terminal.
func waitJob(t *testing.T, c *client.Client, id string) *api.VideoJob {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		job, err := c.VideoJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if api.IsTerminal(job.Status) {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, job.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// backend is a test backend that can be stopped and started again on the
// same directory (database file and signing key), like a restart.
type backend struct {
	ts   *testServer
	stop func()
}

func startBackend(t *testing.T, dir string, env map[string]string) *backend {
	t.Helper()
	ts, stop := serveTestApp(t, newTestAppAt(t, dir, env))
	return &backend{ts: ts, stop: stop}
}

// capture remembers every response's headers and body.
type capture struct {
	mu        sync.Mutex
	responses []string
}

func (c *capture) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.responses = append(c.responses, s)
}

func (c *capture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.responses)
}

func (c *capture) find(needle string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.responses {
		if strings.Contains(r, needle) {
			return truncate([]byte(r))
		}
	}
	return ""
}

type capturingTransport struct {
	next http.RoundTripper
	seen *capture
}

func (ct *capturingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := ct.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var headers strings.Builder
	_ = resp.Header.Write(&headers)
	ct.seen.add(req.Method + " " + req.URL.Path + "\n" + headers.String() + "\n" + string(body))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
