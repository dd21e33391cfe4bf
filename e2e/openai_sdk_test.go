package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// integrator is a running system as an integrator meets it: the backend on
// the OpenRouter simulator, a user with an API key, and an admin.
type integrator struct {
	backend *Proc
	key     string
	userID  string
	admin   *client.Client
}

func startIntegrator(t *testing.T) integrator {
	t.Helper()
	fake := StartFake(t)
	b := StartBackend(t, t.TempDir(), "OPENROUTER_BASE_URL="+fake.FakeBaseURL(), "OPENROUTER_API_KEY="+FakeKey,
		"AI_REQUESTS_PER_MINUTE=600")
	ctx := context.Background()
	anon := client.New(b.URL)
	if _, err := anon.Register(ctx, api.RegisterRequest{Email: "sdk@example.com", Password: "sdk-password-1"}); err != nil {
		t.Fatal(err)
	}
	user := signIn(t, anon, "sdk@example.com", "sdk-password-1")
	me, err := user.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key, err := user.CreateAPIKey(ctx, api.APIKeyRequest{Name: "sdk", Scopes: []string{api.ScopeAI}})
	if err != nil {
		t.Fatal(err)
	}
	return integrator{backend: b, key: key.Secret, userID: me.ID, admin: signIn(t, anon, AdminEmail, AdminPassword)}
}

// TestTheOfficialGoSDKWorksUnmodified drives /v1 with the official
// openai-go SDK, its base URL pointed at the backend and a duckgate API
// key as its key: models, a chat, a stream, a tool call round trip (whole
// and streamed), an image, and errors surfacing as the SDK's typed error.
func TestTheOfficialGoSDKWorksUnmodified(t *testing.T) {
	sys := startIntegrator(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sdk := openai.NewClient(option.WithBaseURL(sys.backend.URL+"/v1/"), option.WithAPIKey(sys.key),
		option.WithHTTPClient(httpClient), option.WithMaxRetries(0))
	const model = "openai/gpt-4o-mini"

	t.Run("models", func(t *testing.T) {
		page, err := sdk.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range page.Data {
			found = found || (m.ID == model && m.OwnedBy == "openai" && m.Object == "model")
		}
		if !found {
			t.Fatalf("%s not listed: %+v", model, page.Data)
		}
	})

	t.Run("chat", func(t *testing.T) {
		out, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{
				openai.DeveloperMessage("Answer briefly."),
				openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
					openai.TextContentPart("What is in this picture?"),
					openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/duck.png"}),
				}),
			},
			MaxCompletionTokens: openai.Int(64)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Choices) != 1 || !strings.Contains(out.Choices[0].Message.Content, "What is in this picture?") ||
			out.Choices[0].FinishReason != "stop" || out.Usage.TotalTokens == 0 {
			t.Fatalf("completion: %+v", out)
		}
	})

	t.Run("stream", func(t *testing.T) {
		stream := sdk.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: model,
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream to me")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for stream.Next() {
			acc.AddChunk(stream.Current())
			chunks++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if chunks < 5 || !strings.Contains(acc.Choices[0].Message.Content, "stream to me") || acc.Usage.TotalTokens == 0 {
			t.Fatalf("%d chunks; accumulated %+v", chunks, acc.ChatCompletion)
		}
	})

	weather := openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather",
		Description: openai.String("The weather in a city"),
		Parameters: shared.FunctionParameters{"type": "object",
			"properties": map[string]any{"location": map[string]any{"type": "string"}}, "required": []string{"location"}}})

	t.Run("tool call round trip", func(t *testing.T) {
		params := openai.ChatCompletionNewParams{Model: model, Tools: []openai.ChatCompletionToolUnionParam{weather},
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Paris")}}
		first, err := sdk.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		calls := first.Choices[0].Message.ToolCalls
		if first.Choices[0].FinishReason != "tool_calls" || len(calls) != 1 || calls[0].Function.Name != "get_weather" ||
			calls[0].Function.Arguments != `{"location":"Paris"}` {
			t.Fatalf("tool call: %+v", first.Choices[0])
		}
		params.Messages = append(params.Messages, first.Choices[0].Message.ToParam(),
			openai.ToolMessage("sunny, 21 degrees", calls[0].ID))
		second, err := sdk.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(second.Choices[0].Message.Content, "sunny, 21 degrees") {
			t.Fatalf("after the tool: %+v", second.Choices[0].Message)
		}
	})

	t.Run("streamed tool call", func(t *testing.T) {
		stream := sdk.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: model,
			Tools:    []openai.ChatCompletionToolUnionParam{weather},
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Oslo")}})
		var acc openai.ChatCompletionAccumulator
		var finished []openai.FinishedChatCompletionToolCall
		for stream.Next() {
			acc.AddChunk(stream.Current())
			if call, ok := acc.JustFinishedToolCall(); ok {
				finished = append(finished, call)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(finished) != 1 || finished[0].Name != "get_weather" || finished[0].Arguments != `{"location":"Oslo"}` {
			t.Fatalf("finished tool calls: %+v", finished)
		}
	})

	t.Run("image", func(t *testing.T) {
		out, err := sdk.Images.Generate(ctx, openai.ImageGenerateParams{Prompt: "a duck", Model: "black-forest-labs/flux.2-pro",
			ResponseFormat: openai.ImageGenerateParamsResponseFormatB64JSON, Size: openai.ImageGenerateParamsSize1024x1024})
		if err != nil {
			t.Fatal(err)
		}
		png, err := base64.StdEncoding.DecodeString(out.Data[0].B64JSON)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("image: %v %q", err, png[:min(8, len(png))])
		}
	})

	t.Run("typed errors", func(t *testing.T) {
		_, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, N: openai.Int(3),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnprocessableEntity || apiErr.Param != "n" ||
			apiErr.Type != "invalid_request_error" || !strings.Contains(apiErr.Message, "only 1 choice") {
			t.Fatalf("n=3: %#v", err)
		}
		wrongKey := openai.NewClient(option.WithBaseURL(sys.backend.URL+"/v1/"), option.WithAPIKey("dg_"+strings.Repeat("x", 43)),
			option.WithHTTPClient(httpClient), option.WithMaxRetries(0))
		_, err = wrongKey.Models.List(ctx)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" {
			t.Fatalf("a wrong key: %#v", err)
		}
		zero := 0.0
		if _, err := sys.admin.SetBudget(ctx, sys.userID, &zero); err != nil {
			t.Fatal(err)
		}
		_, err = sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusPaymentRequired || apiErr.Type != "insufficient_quota" ||
			!strings.Contains(apiErr.Message, "budget") {
			t.Fatalf("over budget: %#v", err)
		}
		if _, err := sys.admin.SetBudget(ctx, sys.userID, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// nodeSDK is where make test-deps installs the pinned official Node SDK.
func nodeSDK(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(), "e2e", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json")); err != nil {
		t.Fatalf("the openai Node package is not installed in %s: run make test-deps (%v)", dir, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed: run make test-deps")
	}
	return dir
}

// TestTheOfficialNodeSDKWorksUnmodified runs e2e/node/sdk.mjs, which drives
// /v1 with the official openai Node package (pinned in e2e/node) and a
// duckgate API key: models, a chat, a stream, a tool call round trip, an
// image and a typed error.
func TestTheOfficialNodeSDKWorksUnmodified(t *testing.T) {
	dir := nodeSDK(t)
	sys := startIntegrator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "sdk.mjs")
	cmd.Dir = dir
	cmd.Env = append(minimalEnv(), "DUCKGATE_V1="+sys.backend.URL+"/v1", "DUCKGATE_KEY="+sys.key)
	out, err := cmd.CombinedOutput()
	t.Logf("node sdk.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the Node SDK run failed: %v", err)
	}
	if !strings.Contains(string(out), "all SDK checks passed") {
		t.Fatal("the Node SDK run did not finish its checks")
	}
}
