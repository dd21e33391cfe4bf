package openrouter_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
	"github.com/duckgate/duckgate/backend/internal/openrouter"
)

const testKey = "sk-or-v1-test-secret-0123456789"

// startFake serves a fake OpenRouter on loopback and returns it with a
// client pointed at its /api/v1 base URL.
func startFake(t *testing.T, opts fakeopenrouter.Options, cfg openrouter.Config) (*fakeopenrouter.Server, *openrouter.Client, string) {
	t.Helper()
	opts.APIKey = testKey
	fake := fakeopenrouter.New(opts)
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(fake.Close) // runs first: ends hanging handlers so Close does not wait
	cfg.BaseURL = srv.URL + "/api/v1"
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return fake, openrouter.New(cfg), srv.URL
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func userMessage(text string) []openrouter.Message {
	return []openrouter.Message{{Role: openrouter.RoleSystem, Content: "Be brief."}, {Role: openrouter.RoleUser, Content: openrouter.Content(text)}}
}

// asError asserts err is an *openrouter.Error of kind and returns it.
func asError(t *testing.T, err error, kind openrouter.Kind) *openrouter.Error {
	t.Helper()
	var e *openrouter.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *openrouter.Error of kind %v, got %T %v", kind, err, err)
	}
	if e.Kind != kind {
		t.Fatalf("want kind %v, got %v (%v)", kind, e.Kind, e)
	}
	if strings.Contains(e.Error(), testKey) || strings.Contains(e.Message, testKey) {
		t.Fatalf("the API key leaked into the error: %v", e)
	}
	if strings.Contains(e.Message, "http://") || strings.Contains(e.Message, "https://") || strings.Contains(e.Message, "127.0.0.1") {
		t.Fatalf("an upstream URL leaked into the public message: %q", e.Message)
	}
	return e
}

func TestListModelsSendsKeyAttributionAndAllModalities(t *testing.T) {
	fake, client, _ := startFake(t, fakeopenrouter.Options{}, openrouter.Config{AppURL: "https://duckgate.example", AppTitle: "duckgate"})
	models, err := client.ListModels(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]openrouter.Model{}
	for _, m := range models {
		byID[m.ID] = m
	}
	if got := byID["black-forest-labs/flux.2-pro"].Architecture.OutputModalities; len(got) != 1 || got[0] != "image" {
		t.Fatalf("image-only model missing or wrong (output_modalities=all not sent?): %v", got)
	}
	if byID["openai/gpt-4o-mini"].ContextLength == 0 || byID["openai/gpt-4o-mini"].Pricing["prompt"] == "" {
		t.Fatalf("text model lacks context length or pricing: %+v", byID["openai/gpt-4o-mini"])
	}
	req, _ := fake.LastRequest("/models")
	if req.Query != "output_modalities=all" {
		t.Errorf("query = %q", req.Query)
	}
	for header, want := range map[string]string{"Authorization": "Bearer " + testKey, "HTTP-Referer": "https://duckgate.example",
		"X-Title": "duckgate", "X-OpenRouter-Title": "duckgate"} {
		if got := req.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
}

func TestListVideoAndImageModels(t *testing.T) {
	_, client, _ := startFake(t, fakeopenrouter.Options{}, openrouter.Config{})
	videos, err := client.ListVideoModels(ctxT(t))
	if err != nil || len(videos) == 0 {
		t.Fatalf("video models: %v %v", videos, err)
	}
	if len(videos[0].SupportedDurations) == 0 || len(videos[0].SupportedResolutions) == 0 || len(videos[0].SupportedAspectRatios) == 0 {
		t.Errorf("video model without capabilities: %+v", videos[0])
	}
	images, err := client.ListImageModels(ctxT(t))
	if err != nil || len(images) == 0 {
		t.Fatalf("image models: %v %v", images, err)
	}
	if images[0].SupportedParameters["aspect_ratio"].Type != "enum" {
		t.Errorf("image model capabilities: %+v", images[0].SupportedParameters)
	}
}

func TestChatCompletionSendsHashedUserAndReadsUsage(t *testing.T) {
	fake, client, _ := startFake(t, fakeopenrouter.Options{}, openrouter.Config{UserSalt: "pepper"})
	got, err := client.ChatCompletion(ctxT(t), openrouter.ChatRequest{Model: "openai/gpt-4o-mini",
		Messages: userMessage("What is a duck?"), UserID: "user-42"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Text(), "What is a duck?") || got.ID == "" {
		t.Errorf("answer %q id %q", got.Text(), got.ID)
	}
	if got.Usage == nil || got.Usage.TotalTokens == 0 || got.Usage.Cost == nil || *got.Usage.Cost <= 0 {
		t.Errorf("usage = %+v", got.Usage)
	}
	req, _ := fake.LastRequest("/chat/completions")
	body, _ := req.JSONBody()
	if body["user"] != client.HashUser("user-42") || strings.Contains(string(req.Body), "user-42") {
		t.Errorf("user field %v: want the hash, never the raw id", body["user"])
	}
	first, again := client.HashUser("user-42"), client.HashUser("user-42")
	if first != again || first == client.HashUser("user-43") {
		t.Error("the user hash is not stable and distinct")
	}
	if _, err := client.ChatCompletion(ctxT(t), openrouter.ChatRequest{Model: "openai/gpt-4o-mini", Messages: userMessage("x")}); err == nil {
		t.Error("a chat without user id was sent")
	}
}

func TestImageGenerationThroughChat(t *testing.T) {
	_, client, _ := startFake(t, fakeopenrouter.Options{}, openrouter.Config{})
	models, err := client.ListModels(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"google/gemini-2.5-flash-image", "black-forest-labs/flux.2-pro"} {
		var m openrouter.Model
		for _, candidate := range models {
			if candidate.ID == id {
				m = candidate
			}
		}
		got, err := client.ChatCompletion(ctxT(t), openrouter.ChatRequest{Model: id, Messages: userMessage("a duck"),
			Modalities: m.ImageModalities(), ImageConfig: &openrouter.ImageConfig{AspectRatio: "1:1"}, UserID: "u"})
		if err != nil {
			t.Fatalf("%s with %v: %v", id, m.ImageModalities(), err)
		}
		urls := got.ImageURLs()
		if len(urls) != 1 || !strings.HasPrefix(urls[0], "data:image/png;base64,") {
			t.Fatalf("%s: images %v", id, urls)
		}
		decodePNG(t, strings.TrimPrefix(urls[0], "data:image/png;base64,"))
	}
	// Asking an image-only model for text is refused upstream: 422 with the reason.
	_, err = client.ChatCompletion(ctxT(t), openrouter.ChatRequest{Model: "black-forest-labs/flux.2-pro",
		Messages: userMessage("a duck"), Modalities: []string{"image", "text"}, UserID: "u"})
	if e := asError(t, err, openrouter.KindBadRequest); !strings.Contains(e.Message, "text") {
		t.Errorf("message %q does not carry upstream's reason", e.Message)
	}
}

func decodePNG(t *testing.T, b64 string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
}

func TestChatStreamArrivesIncrementally(t *testing.T) {
	const delay = 80 * time.Millisecond
	_, client, _ := startFake(t, fakeopenrouter.Options{ChunkDelay: delay}, openrouter.Config{})
	start := time.Now()
	stream, err := client.ChatCompletionStream(ctxT(t), openrouter.ChatRequest{Model: "openai/gpt-4o-mini",
		Messages: userMessage("tell me about ducks"), UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var text strings.Builder
	var firstAt time.Duration
	events := 0
	for {
		ev, err := stream.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if events == 0 {
			firstAt = time.Since(start)
		}
		events++
		if !bytes.HasPrefix(ev.Data, []byte("{")) || ev.Chunk.Object != "chat.completion.chunk" {
			t.Fatalf("event %d: data %q chunk %+v", events, ev.Data, ev.Chunk)
		}
		text.WriteString(ev.Chunk.Text())
	}
	total := time.Since(start)
	if !strings.Contains(text.String(), "tell me about ducks") {
		t.Errorf("streamed text %q", text.String())
	}
	if events < 5 || firstAt > total/2 {
		t.Errorf("not incremental: %d events, first after %v of %v", events, firstAt, total)
	}
	if u := stream.Usage(); u == nil || u.TotalTokens == 0 || u.Cost == nil {
		t.Errorf("usage from the final chunk: %+v", u)
	}
	if _, err := stream.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after [DONE]: %v", err)
	}
}

func TestCancelingTheCallerCancelsTheUpstreamStream(t *testing.T) {
	fake, client, _ := startFake(t, fakeopenrouter.Options{ChunkDelay: 200 * time.Millisecond}, openrouter.Config{})
	ctx, cancel := context.WithCancel(ctxT(t))
	stream, err := client.ChatCompletionStream(ctx, openrouter.ChatRequest{Model: "openai/gpt-4o-mini",
		Messages: userMessage("a long story"), UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, err := stream.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = stream.Next()
	if e := asError(t, err, openrouter.KindCanceled); !errors.Is(e, context.Canceled) {
		t.Errorf("a canceled call should wrap context.Canceled: %v", e)
	}
	waitDisconnect(t, fake, "/chat/completions")
}

func waitDisconnect(t *testing.T, fake *fakeopenrouter.Server, path string) {
	t.Helper()
	if _, err := fake.WaitRequest(ctxT(t), func(r fakeopenrouter.Request) bool {
		return strings.HasSuffix(r.Path, path) && r.Disconnected
	}); err != nil {
		t.Fatalf("the fake never saw the client of %s go away: %v", path, err)
	}
}

func TestUpstreamFailuresMapToOurStatuses(t *testing.T) {
	cases := []struct {
		mode       fakeopenrouter.Failure
		kind       openrouter.Kind
		upstream   int // the status upstream answered (0: none arrived)
		retryAfter time.Duration
	}{
		{fakeopenrouter.FailUnauthorized, openrouter.KindUpstream, 401, 0},
		{fakeopenrouter.FailPaymentRequired, openrouter.KindUpstream, 402, 0},
		{fakeopenrouter.FailRateLimited, openrouter.KindRateLimited, 429, fakeopenrouter.DefaultRetryAfter * time.Second},
		{fakeopenrouter.FailServerError, openrouter.KindUpstream, 500, 0},
		{fakeopenrouter.FailMalformed, openrouter.KindUpstream, 0, 0},
		{fakeopenrouter.FailErrorIn200, openrouter.KindUpstream, 502, 0},
		{fakeopenrouter.FailHang, openrouter.KindTimeout, 0, 0},
	}
	fake, client, _ := startFake(t, fakeopenrouter.Options{}, openrouter.Config{Timeout: 300 * time.Millisecond})
	for _, tc := range cases {
		t.Run(string(tc.mode), func(t *testing.T) {
			fake.Fail(fakeopenrouter.FailureRule{Mode: tc.mode, Times: 1})
			_, err := client.ChatCompletion(ctxT(t), openrouter.ChatRequest{Model: "openai/gpt-4o-mini", Messages: userMessage("hi"), UserID: "u"})
			e := asError(t, err, tc.kind)
			if e.StatusCode != tc.upstream || e.RetryAfter != tc.retryAfter || e.Message == "" {
				t.Errorf("upstream status %d retry %v message %q", e.StatusCode, e.RetryAfter, e.Message)
			}
			// The rule was used once: the next call succeeds.
			if _, err := client.ChatCompletion(ctxT(t), openrouter.ChatRequest{Model: "openai/gpt-4o-mini", Messages: userMessage("hi"), UserID: "u"}); err != nil {
				t.Errorf("after the failure: %v", err)
			}
		})
	}
	waitDisconnect(t, fake, "/chat/completions") // the hang saw the timeout
}

func TestCallerCancellationIsNotATimeout(t *testing.T) {
	fake, client, _ := startFake(t, fakeopenrouter.Options{}, openrouter.Config{})
	fake.Fail(fakeopenrouter.FailureRule{Mode: fakeopenrouter.FailHang})
	ctx, cancel := context.WithCancel(ctxT(t))
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := client.ListModels(ctx)
	asError(t, err, openrouter.KindCanceled)
	waitDisconnect(t, fake, "/models")
}

func TestErrorMidStream(t *testing.T) {
	fake, client, _ := startFake(t, fakeopenrouter.Options{}, openrouter.Config{})
	fake.Fail(fakeopenrouter.FailureRule{Mode: fakeopenrouter.FailMidStream, Times: 1})
	stream, err := client.ChatCompletionStream(ctxT(t), openrouter.ChatRequest{Model: "openai/gpt-4o-mini", Messages: userMessage("hi"), UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	events := 0
	for {
		_, err = stream.Next()
		if err != nil {
			break
		}
		events++
	}
	if events == 0 {
		t.Error("the error should come after some events")
	}
	e := asError(t, err, openrouter.KindUpstream)
	if e.StatusCode != http.StatusBadGateway {
		t.Errorf("code %d", e.StatusCode)
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	fake, client, _ := startFake(t, fakeopenrouter.Options{ChunkDelay: time.Second},
		openrouter.Config{StreamIdleTimeout: 150 * time.Millisecond})
	stream, err := client.ChatCompletionStream(ctxT(t), openrouter.ChatRequest{Model: "openai/gpt-4o-mini", Messages: userMessage("hi"), UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var nextErr error
	for nextErr == nil {
		_, nextErr = stream.Next()
	}
	asError(t, nextErr, openrouter.KindTimeout)
	waitDisconnect(t, fake, "/chat/completions")
}

func TestCreateImage(t *testing.T) {
	_, client, _ := startFake(t, fakeopenrouter.Options{}, openrouter.Config{})
	got, err := client.CreateImage(ctxT(t), openrouter.ImageRequest{Model: "black-forest-labs/flux.2-pro", Prompt: "a duck", AspectRatio: "1:1"})
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, got.Data[0].B64JSON)
	if !strings.HasPrefix(got.Data[0].DataURL(), "data:image/png;base64,") || got.Usage == nil || got.Usage.Cost == nil {
		t.Errorf("image %q usage %+v", got.Data[0].DataURL()[:30], got.Usage)
	}
}

func TestVideoJobFromImageToContent(t *testing.T) {
	fake, client, _ := startFake(t, fakeopenrouter.Options{VideoPolls: 2}, openrouter.Config{})
	duration := 4
	frame := "data:image/png;base64," + base64.StdEncoding.EncodeToString(fake.SamplePNG())
	job, err := client.SubmitVideo(ctxT(t), openrouter.VideoRequest{Model: "google/veo-3.1", Prompt: "a duck swims",
		Duration: &duration, Resolution: "720p", AspectRatio: "16:9", FirstFrameURL: frame})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != openrouter.VideoPending || !strings.HasPrefix(job.PollingURL, "http://127.0.0.1:") {
		t.Fatalf("submitted job %+v (polling_url should be made absolute)", job)
	}
	sent, _ := fake.LastRequest("/videos")
	if !strings.Contains(string(sent.Body), `"frame_type":"first_frame"`) || !strings.Contains(string(sent.Body), frame) {
		t.Errorf("image-to-video body %s", sent.Body[:min(len(sent.Body), 200)])
	}

	polled, err := client.PollVideo(ctxT(t), job.PollingURL)
	if err != nil || polled.Status != openrouter.VideoInProgress {
		t.Fatalf("first poll %+v %v", polled, err)
	}
	done, err := client.GetVideo(ctxT(t), job.ID)
	if err != nil || done.Status != openrouter.VideoCompleted || len(done.UnsignedURLs) == 0 || done.Usage == nil {
		t.Fatalf("second poll %+v %v", done, err)
	}

	content, err := client.VideoContent(ctxT(t), job.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer content.Body.Close()
	body, err := io.ReadAll(content.Body)
	if err != nil {
		t.Fatal(err)
	}
	if content.ContentType != "video/mp4" || content.ContentLength != int64(len(body)) || !bytes.Equal(body, fakeopenrouter.SampleMP4()) {
		t.Errorf("content type %q length %d, %d bytes", content.ContentType, content.ContentLength, len(body))
	}
}

func TestVideoRejectionsAndFailedJobs(t *testing.T) {
	fake, client, _ := startFake(t, fakeopenrouter.Options{VideoPolls: 1}, openrouter.Config{})
	duration := 5
	_, err := client.SubmitVideo(ctxT(t), openrouter.VideoRequest{Model: "google/veo-3.1", Prompt: "x", Duration: &duration})
	if e := asError(t, err, openrouter.KindBadRequest); !strings.Contains(e.Message, "4, 6, 8") {
		t.Errorf("message %q should name the allowed durations", e.Message)
	}
	fake.Fail(fakeopenrouter.FailureRule{Mode: fakeopenrouter.FailVideoJob, Times: 1})
	job, err := client.SubmitVideo(ctxT(t), openrouter.VideoRequest{Model: "openai/sora-2", Prompt: "x"})
	if err != nil {
		t.Fatal(err)
	}
	failed, err := client.GetVideo(ctxT(t), job.ID)
	if err != nil || failed.Status != openrouter.VideoFailed || failed.Error == "" {
		t.Fatalf("job %+v %v", failed, err)
	}
	if _, err := client.VideoContent(ctxT(t), job.ID, 0); err == nil {
		t.Error("content of a failed job")
	}
}

func TestKeyStaysOnTheConfiguredOrigin(t *testing.T) {
	var sawAuth []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth = append(sawAuth, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"job-1","polling_url":"/x","status":"in_progress"}`)
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			t.Errorf("the configured origin did not get the key")
		}
		http.Redirect(w, r, elsewhere.URL+"/videos/job-1", http.StatusFound)
	}))
	defer redirector.Close()
	client := openrouter.New(openrouter.Config{BaseURL: redirector.URL + "/api/v1", APIKey: testKey})

	if _, err := client.PollVideo(ctxT(t), elsewhere.URL+"/api/v1/videos/job-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetVideo(ctxT(t), "job-1"); err != nil { // redirected to elsewhere
		t.Fatal(err)
	}
	if len(sawAuth) != 2 || sawAuth[0] != "" || sawAuth[1] != "" {
		t.Errorf("another origin received Authorization: %q", sawAuth)
	}
}

func TestUpstreamMessagesAreScrubbed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":400,"message":"key `+testKey+` cannot use this model, see https://openrouter.ai/docs"}}`)
	}))
	defer srv.Close()
	client := openrouter.New(openrouter.Config{BaseURL: srv.URL, APIKey: testKey})
	_, err := client.ChatCompletion(ctxT(t), openrouter.ChatRequest{Model: "m", Messages: userMessage("x"), UserID: "u"})
	e := asError(t, err, openrouter.KindBadRequest)
	if !strings.Contains(e.Message, "cannot use this model") {
		t.Errorf("the reason should reach the user: %q", e.Message)
	}
}

// An error object in a 200 answer is a failure even when the rest of the
// answer cannot be read, and a readable answer is not mistaken for one.
func TestErrorInside200WinsOverUnreadableAnswer(t *testing.T) {
	answering := func(answer string) *openrouter.Client {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, answer)
		}))
		t.Cleanup(srv.Close)
		return openrouter.New(openrouter.Config{BaseURL: srv.URL, APIKey: testKey})
	}
	req := openrouter.ChatRequest{Model: "m", Messages: userMessage("x"), UserID: "u"}
	failing := answering(`{"choices":[{"message":{"content":5}}],"error":{"code":402,"message":"out of credits"}}`)
	_, err := failing.ChatCompletion(ctxT(t), req)
	if e := asError(t, err, openrouter.KindUpstream); e.StatusCode != 402 || !strings.Contains(e.Message, "credits") {
		t.Errorf("want the upstream's 402 reported, got %d %q", e.StatusCode, e.Message)
	}
	fine := answering(`{"id":"gen-1","choices":[{"message":{"role":"assistant","content":"fine"}}],"error":"a string is no failure"}`)
	out, err := fine.ChatCompletion(ctxT(t), req)
	if err != nil || out.Text() != "fine" || out.ID != "gen-1" {
		t.Fatalf("answer %+v, %v", out, err)
	}
}

func TestServerSentEventsParsing(t *testing.T) {
	bigImage := strings.Repeat("A", 5<<20) // a base64 image on one line
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, ": OPENROUTER PROCESSING\r\n\r\n")
		_, _ = io.WriteString(w, "event: message\nid: 1\ndata: {\"id\":\"a\",\"object\":\"chat.completion.chunk\",\n")
		_, _ = io.WriteString(w, "data: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"multi\"}}]}\n\n")
		_, _ = io.WriteString(w, "data: {\"id\":\"b\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\""+bigImage+"\"}}]}\n\n")
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer srv.Close()
	client := openrouter.New(openrouter.Config{BaseURL: srv.URL, APIKey: testKey})
	stream, err := client.ChatCompletionStream(ctxT(t), openrouter.ChatRequest{Model: "m", Messages: userMessage("x"), UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	first, err := stream.Next()
	if err != nil || first.Chunk.Text() != "multi" || !bytes.Contains(first.Data, []byte(",\n\"choices\"")) {
		t.Fatalf("multi-line event: %q %+v %v", first.Data, first.Chunk, err)
	}
	second, err := stream.Next()
	if err != nil || len(second.Chunk.Text()) != len(bigImage) {
		t.Fatalf("large event: %v", err)
	}
	if _, err := stream.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("want io.EOF after [DONE], got %v", err)
	}
}

func TestStreamCutBeforeDoneIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"id\":\"a\",\"choices\":[]}\n\n")
	}))
	defer srv.Close()
	client := openrouter.New(openrouter.Config{BaseURL: srv.URL, APIKey: testKey})
	stream, err := client.ChatCompletionStream(ctxT(t), openrouter.ChatRequest{Model: "m", Messages: userMessage("x"), UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, err := stream.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Next()
	asError(t, err, openrouter.KindUpstream)
}

func TestInvalidBaseURLFailsCallsNotConstruction(t *testing.T) {
	client := openrouter.New(openrouter.Config{BaseURL: "not a url", APIKey: testKey})
	_, err := client.ListModels(ctxT(t))
	asError(t, err, openrouter.KindUpstream)
	if openrouter.ValidateBaseURL("ftp://x") == nil || openrouter.ValidateBaseURL(openrouter.DefaultBaseURL) != nil {
		t.Error("ValidateBaseURL")
	}
}

func TestStreamingRequestFailuresBeforeTheFirstEvent(t *testing.T) {
	fake, client, _ := startFake(t, fakeopenrouter.Options{}, openrouter.Config{Timeout: 300 * time.Millisecond})
	cases := map[fakeopenrouter.Failure]openrouter.Kind{
		fakeopenrouter.FailRateLimited: openrouter.KindRateLimited,
		fakeopenrouter.FailErrorIn200:  openrouter.KindUpstream,
		fakeopenrouter.FailMalformed:   openrouter.KindUpstream,
		fakeopenrouter.FailHang:        openrouter.KindTimeout,
	}
	for mode, kind := range cases {
		fake.Fail(fakeopenrouter.FailureRule{Mode: mode, Times: 1})
		stream, err := client.ChatCompletionStream(ctxT(t), openrouter.ChatRequest{Model: "openai/gpt-4o-mini", Messages: userMessage("hi"), UserID: "u"})
		if err == nil {
			stream.Close()
			t.Fatalf("%s: the stream started", mode)
		}
		asError(t, err, kind)
	}
}

// Finished streams and calls give their connection back: 200 concurrent
// callers must not open a connection per call.
func TestConnectionsAreReused(t *testing.T) {
	fake := fakeopenrouter.New(fakeopenrouter.Options{APIKey: testKey})
	srv := httptest.NewUnstartedServer(fake.Handler())
	var opened atomicCounter
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.add()
		}
	}
	srv.Start()
	defer srv.Close()
	client := openrouter.New(openrouter.Config{BaseURL: srv.URL + "/api/v1", APIKey: testKey})
	for range 3 {
		stream, err := client.ChatCompletionStream(ctxT(t), openrouter.ChatRequest{Model: "openai/gpt-4o-mini", Messages: userMessage("hi"), UserID: "u"})
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, err = stream.Next()
		}
		stream.Close()
		if _, err := client.ListModels(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if n := opened.get(); n != 1 {
		t.Errorf("6 sequential calls opened %d connections", n)
	}
}

type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) add()       { c.n.Add(1) }
func (c *atomicCounter) get() int64 { return c.n.Load() }
