package ai

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/openrouter"
	"github.com/duckgate/duckgate/shared/api"
)

// The OpenAI-compatible API (/v1): OpenAI's request and answer shapes over
// the same gateway, so the official SDKs and the tools built on them work
// unmodified. A chat request's members are checked and passed through to
// OpenRouter (whose chat API is OpenAI's), answers and chunks come back as
// upstream sent them; a member we do not support is refused, never
// dropped. Budgets, rate limits and usage records are those of /ai.

// v1ChatParams are the members of a chat request the gateway takes:
// passed through, except n (1 only), stream and stream_options (handled
// here) and user (replaced by the gateway's pseudonym of the caller, as
// for every upstream call).
var v1ChatParams = map[string]bool{
	"model": true, "messages": true, "max_tokens": true, "max_completion_tokens": true, "temperature": true,
	"top_p": true, "n": true, "stop": true, "stream": true, "stream_options": true, "tools": true, "tool_choice": true,
	"parallel_tool_calls": true, "response_format": true, "seed": true, "presence_penalty": true,
	"frequency_penalty": true, "logit_bias": true, "logprobs": true, "top_logprobs": true, "reasoning_effort": true,
	"metadata": true, "user": true,
}

// Roles and content parts a /v1 message may have.
var (
	v1Roles     = []string{"system", "developer", "user", "assistant", "tool"}
	v1PartTypes = []string{"text", "image_url", "input_audio", "file"}
)

// v1Chat is a checked /v1 chat request.
type v1Chat struct {
	req          openrouter.PassthroughRequest
	model        string
	stream       bool
	includeUsage bool
	promptBytes  int
	maxTokens    int
}

// unsupported refuses a request member by name.
func unsupported(name, why string) error {
	return model.Invalid(model.Field(name, why))
}

// typeError names the member a JSON value of the wrong type was given for.
func typeError(err error, prefix string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		name := strings.TrimPrefix(prefix+"."+te.Field, ".")
		return model.Invalid(model.Field(name, "must be of type "+te.Type.String()))
	}
	return model.Invalid(model.Field(strings.TrimPrefix(prefix, "."), "is not valid JSON of the expected shape"))
}

// parseV1Chat checks a /v1 chat request body.
func (s *Service) parseV1Chat(userID uuid.UUID, body []byte) (v1Chat, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return v1Chat{}, model.Invalid(model.Field("body", "must be a JSON object"))
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !v1ChatParams[name] {
			return v1Chat{}, unsupported(name, "is not supported by this gateway; remove it (supported: see POST /v1/chat/completions in /docs)")
		}
	}
	var in struct {
		Model               string            `json:"model"`
		Messages            []json.RawMessage `json:"messages"`
		MaxTokens           *int              `json:"max_tokens"`
		MaxCompletionTokens *int              `json:"max_completion_tokens"`
		Temperature         *float64          `json:"temperature"`
		TopP                *float64          `json:"top_p"`
		N                   *int              `json:"n"`
		Stream              *bool             `json:"stream"`
		StreamOptions       *struct {
			IncludeUsage *bool `json:"include_usage"`
		} `json:"stream_options"`
		Tools []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return v1Chat{}, typeError(err, "")
	}
	var errs model.Fields
	errs = append(errs, checkModelID(in.Model)...)
	if in.N != nil && *in.N != 1 {
		errs.Add("n", "only 1 choice per request is supported")
	}
	for _, limit := range []struct {
		name string
		v    *int
	}{{"max_tokens", in.MaxTokens}, {"max_completion_tokens", in.MaxCompletionTokens}} {
		if limit.v != nil && *limit.v < 1 {
			errs.Add(limit.name, "must be at least 1")
		}
	}
	if in.Temperature != nil && (*in.Temperature < 0 || *in.Temperature > 2) {
		errs.Add("temperature", "must be between 0 and 2")
	}
	if in.TopP != nil && (*in.TopP < 0 || *in.TopP > 1) {
		errs.Add("top_p", "must be between 0 and 1")
	}
	if in.StreamOptions != nil && (in.Stream == nil || !*in.Stream) {
		errs.Add("stream_options", "is only allowed with stream: true")
	}
	switch {
	case len(in.Messages) == 0:
		errs.Add("messages", "must hold at least one message")
	case len(in.Messages) > MaxMessages:
		errs.Add("messages", fmt.Sprintf("may hold at most %d messages", MaxMessages))
	}
	promptBytes := 0
	for i, raw := range in.Messages {
		promptBytes += len(raw)
		if err := checkV1Message("messages["+strconv.Itoa(i)+"]", raw); err != nil {
			errs = append(errs, err...)
		}
	}
	for i, raw := range in.Tools {
		var tool struct {
			Type     string `json:"type"`
			Function *struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		name := "tools[" + strconv.Itoa(i) + "]"
		if json.Unmarshal(raw, &tool) != nil || tool.Type != "function" || tool.Function == nil || tool.Function.Name == "" {
			errs.Add(name, `must be {"type": "function", "function": {"name", "description"?, "parameters"?}}`)
		}
	}
	if err := s.configuredAndValid(errs); err != nil {
		return v1Chat{}, err
	}
	out := v1Chat{model: modelOr(in.Model, s.opts.DefaultTextModel), stream: in.Stream != nil && *in.Stream,
		promptBytes: promptBytes}
	out.includeUsage = in.StreamOptions != nil && in.StreamOptions.IncludeUsage != nil && *in.StreamOptions.IncludeUsage
	switch {
	case in.MaxCompletionTokens != nil:
		out.maxTokens = *in.MaxCompletionTokens
	case in.MaxTokens != nil:
		out.maxTokens = *in.MaxTokens
	}
	for _, name := range []string{"n", "stream", "stream_options", "user"} {
		delete(fields, name)
	}
	fields["model"], _ = json.Marshal(out.model)
	out.req = openrouter.PassthroughRequest{Fields: fields, UserID: userID.String()}
	return out, nil
}

// checkV1Message checks one message: a known role, and content of a shape
// that role may send.
func checkV1Message(name string, raw json.RawMessage) model.Fields {
	var m struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCallID *string         `json:"tool_call_id"`
		ToolCalls  json.RawMessage `json:"tool_calls"`
	}
	var errs model.Fields
	if err := json.Unmarshal(raw, &m); err != nil {
		errs.Add(name, "must be an object with role and content")
		return errs
	}
	if !slices.Contains(v1Roles, m.Role) {
		errs.Add(name+".role", "must be one of "+strings.Join(v1Roles, ", "))
		return errs
	}
	if m.Role == "tool" && (m.ToolCallID == nil || *m.ToolCallID == "") {
		errs.Add(name+".tool_call_id", "is required on a tool message")
	}
	if len(m.ToolCalls) > 0 && (m.Role != "assistant" || m.ToolCalls[0] != '[') {
		errs.Add(name+".tool_calls", "must be an array, on an assistant message")
	}
	content := strings.TrimSpace(string(m.Content))
	switch {
	case content == "" || content == "null":
		if m.Role != "assistant" {
			errs.Add(name+".content", "is required")
		}
	case content[0] == '"':
	case content[0] == '[':
		var parts []struct {
			Type     string  `json:"type"`
			Text     *string `json:"text"`
			ImageURL *struct {
				URL string `json:"url"`
			} `json:"image_url"`
		}
		if json.Unmarshal(m.Content, &parts) != nil {
			errs.Add(name+".content", "must be a string or an array of content parts")
			return errs
		}
		textOnly := m.Role == "system" || m.Role == "developer"
		for j, p := range parts {
			pname := name + ".content[" + strconv.Itoa(j) + "]"
			switch {
			case !slices.Contains(v1PartTypes, p.Type):
				errs.Add(pname+".type", "must be one of "+strings.Join(v1PartTypes, ", "))
			case textOnly && p.Type != "text":
				errs.Add(pname+".type", "a "+m.Role+" message takes text parts only")
			case p.Type == "text" && p.Text == nil:
				errs.Add(pname+".text", "is required")
			case p.Type == "image_url" && (p.ImageURL == nil || !imageURLAllowed(p.ImageURL.URL)):
				errs.Add(pname+".image_url.url", "must be an https URL or a data: URL")
			}
		}
	default:
		errs.Add(name+".content", "must be a string or an array of content parts")
	}
	return errs
}

func imageURLAllowed(u string) bool {
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "data:image/")
}

func (s *Service) v1Estimate(ctx context.Context, chat v1Chat) func() float64 {
	return func() float64 { return s.tokenEstimate(ctx, chat.model, chat.promptBytes, chat.maxTokens) }
}

// OpenAIChat answers a /v1 chat request in one piece: upstream's
// chat.completion as it came.
func (s *Service) OpenAIChat(ctx context.Context, userID uuid.UUID, chat v1Chat) ([]byte, error) {
	c, err := s.beginCall(ctx, userID, model.KindChat, chat.model, s.v1Estimate(ctx, chat))
	if err != nil {
		return nil, err
	}
	out, err := s.client.ChatCompletionPassthrough(ctx, chat.req)
	if err != nil {
		c.finish(ctx, err, nil, "")
		return nil, err
	}
	c.finish(ctx, nil, out.Completion.Usage, out.Completion.ID)
	return out.Body, nil
}

// OpenAIStreamChat streams a /v1 chat answer: upstream's
// chat.completion.chunk events as they come, then [DONE]. The usage-only
// last chunk is passed on only when stream_options.include_usage asked for
// it. A failure after the stream began is sent as an event in OpenAI's
// error envelope (the SDKs raise it), then [DONE]. Like StreamChat, it
// returns an error without emitting anything when the stream could not
// begin.
func (s *Service) OpenAIStreamChat(ctx context.Context, userID uuid.UUID, chat v1Chat, emit func([]byte) error) error {
	c, err := s.beginCall(ctx, userID, model.KindChat, chat.model, s.v1Estimate(ctx, chat))
	if err != nil {
		return err
	}
	stream, err := s.client.ChatCompletionStreamPassthrough(ctx, chat.req)
	if err != nil {
		c.finish(ctx, err, nil, "")
		return err
	}
	defer stream.Close()
	generationID := ""
	for {
		event, err := stream.Next()
		if errors.Is(err, io.EOF) {
			c.finish(ctx, nil, stream.Usage(), generationID)
			_ = emit([]byte("[DONE]"))
			return nil
		}
		if err != nil {
			c.finish(ctx, err, stream.Usage(), generationID)
			s.emitOpenAIFailure(err, emit)
			return nil
		}
		if generationID == "" {
			generationID = event.Chunk.ID
		}
		if len(event.Chunk.Choices) == 0 && event.Chunk.Usage != nil && !chat.includeUsage {
			continue
		}
		if err := emit(event.Data); err != nil {
			c.finish(ctx, context.Canceled, stream.Usage(), generationID)
			return nil
		}
	}
}

func (s *Service) emitOpenAIFailure(err error, emit func([]byte) error) {
	var oe *openrouter.Error
	if !errors.As(err, &oe) {
		oe = &openrouter.Error{Message: "the AI provider failed", Cause: err}
	}
	if oe.Kind == openrouter.KindCanceled {
		return
	}
	s.log.Warn("chat stream failed after it began", "err", err)
	var body api.OpenAIError
	if s.opts.OpenAIError != nil {
		body = s.opts.OpenAIError(oe)
	} else {
		body = api.OpenAIError{Message: oe.Message, Type: "server_error"}
	}
	data, _ := json.Marshal(api.OpenAIErrorResponse{Error: body})
	if emit(data) == nil {
		_ = emit([]byte("[DONE]"))
	}
}

// OpenAIModels lists the chat catalogue in OpenAI's shape (video models
// are not usable through /v1 and are left out).
func (s *Service) OpenAIModels(ctx context.Context) (api.OpenAIModelList, error) {
	if err := s.configured(); err != nil {
		return api.OpenAIModelList{}, err
	}
	cat, err := s.models.get(ctx)
	if err != nil {
		return api.OpenAIModelList{}, err
	}
	out := api.OpenAIModelList{Object: "list", Data: make([]api.OpenAIModel, 0, len(cat.models))}
	for _, m := range cat.models {
		owner, _, found := strings.Cut(m.ID, "/")
		if !found {
			owner = "openrouter"
		}
		out.Data = append(out.Data, api.OpenAIModel{ID: m.ID, Object: "model", Created: m.Created, OwnedBy: owner})
	}
	return out, nil
}

// openAISizes maps OpenAI's image sizes to aspect ratios.
var openAISizes = map[string]string{
	"256x256": "1:1", "512x512": "1:1", "1024x1024": "1:1", "1536x1024": "3:2", "1024x1536": "2:3",
	"1792x1024": "16:9", "1024x1792": "9:16",
}

var v1ImageParams = map[string]bool{"prompt": true, "model": true, "n": true, "size": true, "response_format": true, "user": true}

// OpenAIImages generates an image for /v1/images/generations, answered as
// base64 (b64_json).
func (s *Service) OpenAIImages(ctx context.Context, userID uuid.UUID, body []byte) (api.ImagesResponse, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return api.ImagesResponse{}, model.Invalid(model.Field("body", "must be a JSON object"))
	}
	for name := range fields {
		if !v1ImageParams[name] {
			return api.ImagesResponse{}, unsupported(name, "is not supported by this gateway; remove it")
		}
	}
	var in api.ImageGenerationRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return api.ImagesResponse{}, typeError(err, "")
	}
	var errs model.Fields
	if in.N != nil && *in.N != 1 {
		errs.Add("n", "only 1 image per request is supported")
	}
	if in.ResponseFormat != "" && in.ResponseFormat != "b64_json" {
		errs.Add("response_format", "only b64_json is supported")
	}
	ratio := ""
	if in.Size != "" && in.Size != "auto" {
		if ratio = openAISizes[in.Size]; ratio == "" {
			ratio = ratioOf(in.Size)
		}
		if ratio == "" {
			errs.Add("size", "must be auto or WIDTHxHEIGHT, such as 1024x1024")
		}
	}
	if err := errs.Err(); err != nil {
		return api.ImagesResponse{}, err
	}
	out, err := s.GenerateImage(ctx, userID, api.ImageRequest{Prompt: in.Prompt, Model: in.Model, AspectRatio: ratio})
	var ve *model.ValidationError
	if errors.As(err, &ve) {
		for i, f := range ve.Fields {
			if f.Field == "aspect_ratio" {
				ve.Fields[i] = model.Field("size", "gives the aspect ratio "+ratio+", which "+strings.TrimPrefix(f.Message, `"`+ratio+`" `))
			}
		}
	}
	if err != nil {
		return api.ImagesResponse{}, err
	}
	resp := api.ImagesResponse{Created: s.now().Unix(), Data: []api.GeneratedImage{}}
	for _, img := range out.Images {
		_, b64, ok := strings.Cut(img.URL, ";base64,")
		if !ok || !strings.HasPrefix(img.URL, "data:") {
			continue
		}
		if _, err := base64.StdEncoding.DecodeString(b64); err != nil {
			continue
		}
		resp.Data = append(resp.Data, api.GeneratedImage{B64JSON: b64})
	}
	if len(resp.Data) == 0 {
		return api.ImagesResponse{}, fmt.Errorf("ai: /v1 image: %w", model.ErrNoImage)
	}
	return resp, nil
}

// ratioOf reduces WIDTHxHEIGHT to W:H.
func ratioOf(size string) string {
	w, h, ok := strings.Cut(size, "x")
	width, err1 := strconv.Atoi(w)
	height, err2 := strconv.Atoi(h)
	if !ok || err1 != nil || err2 != nil || width < 1 || height < 1 || width > 10000 || height > 10000 {
		return ""
	}
	a, b := width, height
	for b != 0 {
		a, b = b, a%b
	}
	return strconv.Itoa(width/a) + ":" + strconv.Itoa(height/a)
}
