package ai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/duckgate/duckgate/backend/internal/model"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/openrouter"
	"github.com/duckgate/duckgate/shared/api"
)

// Bounds of a conversation: generous for real chats, small enough that one
// request cannot make us forward megabytes upstream.
const (
	MaxMessages          = 200
	MaxConversationBytes = 256 << 10
	maxModelIDLength     = 200
)

// Chat answers a conversation in one piece.
func (s *Service) Chat(ctx context.Context, userID uuid.UUID, in api.ChatRequest) (api.ChatResponse, error) {
	req, err := s.chatRequest(userID, in)
	if err != nil {
		return api.ChatResponse{}, err
	}
	out, err := s.complete(ctx, model.KindChat, req, s.chatEstimate(ctx, req))
	if err != nil {
		return api.ChatResponse{}, err
	}
	return api.ChatResponse{ID: out.ID, Model: modelOr(out.Model, req.Model),
		Message: api.ChatMessage{Role: api.ChatRoleAssistant, Content: out.Text()}, Usage: fromUsage(out.Usage)}, nil
}

// GenerateText completes a prompt, with an optional system prompt.
func (s *Service) GenerateText(ctx context.Context, userID uuid.UUID, in api.TextRequest) (api.TextResponse, error) {
	var fields []model.FieldError
	if strings.TrimSpace(in.Prompt) == "" {
		fields = append(fields, model.Field("prompt", "must not be empty"))
	}
	if len(in.Prompt)+len(in.SystemPrompt) > MaxConversationBytes {
		fields = append(fields, model.Field("prompt", fmt.Sprintf("prompt and system_prompt together may hold at most %d bytes", MaxConversationBytes)))
	}
	fields = append(fields, checkModelID(in.Model)...)
	fields = append(fields, checkSampling(in.Temperature, in.MaxTokens)...)
	if err := s.configuredAndValid(fields); err != nil {
		return api.TextResponse{}, err
	}
	var messages []openrouter.Message
	if strings.TrimSpace(in.SystemPrompt) != "" {
		messages = append(messages, openrouter.Message{Role: openrouter.RoleSystem, Content: openrouter.Content(in.SystemPrompt)})
	}
	messages = append(messages, openrouter.Message{Role: openrouter.RoleUser, Content: openrouter.Content(in.Prompt)})
	req := openrouter.ChatRequest{Model: modelOr(in.Model, s.opts.DefaultTextModel), Messages: messages,
		Temperature: in.Temperature, MaxTokens: in.MaxTokens, UserID: userID.String()}
	out, err := s.complete(ctx, model.KindText, req, s.chatEstimate(ctx, req))
	if err != nil {
		return api.TextResponse{}, err
	}
	return api.TextResponse{Text: out.Text(), Model: modelOr(out.Model, req.Model), Usage: fromUsage(out.Usage)}, nil
}

// complete sends one non-streaming completion and records it.
func (s *Service) complete(ctx context.Context, kind string, req openrouter.ChatRequest, estimate func() float64) (*openrouter.ChatCompletion, error) {
	userID, _ := uuid.Parse(req.UserID)
	c, err := s.beginCall(ctx, userID, kind, req.Model, estimate)
	if err != nil {
		return nil, err
	}
	out, err := s.client.ChatCompletion(ctx, req)
	if err != nil {
		c.finish(ctx, err, nil, "")
		return nil, err
	}
	c.finish(ctx, nil, out.Usage, out.ID)
	return out, nil
}

// StreamResult is what a streamed answer came to.
type StreamResult struct {
	Text  string // the content of every chunk that reached the client
	Model string // the model that answered
	// Complete is true when upstream finished the answer; false when the
	// client went away or upstream failed mid-stream (the answer is cut
	// short).
	Complete bool
}

// StreamChat streams the answer to a conversation. emit writes one event's
// data to the client (and flushes); StreamChat calls it for each upstream
// event verbatim, then for "[DONE]". It returns an error without calling emit
// when the stream could not begin (the caller answers a problem). Once
// streaming, an upstream failure is emitted as {"error": {"code", "message"}}
// before [DONE], and a client that went away (emit fails, or ctx ends) ends
// the upstream request. finished, when not nil, is told what the answer
// came to once its usage record is committed and before [DONE] is written,
// whether or not the stream completed; an error it returns reaches the
// client as an error event.
func (s *Service) StreamChat(ctx context.Context, userID uuid.UUID, in api.ChatRequest, emit func(data []byte) error,
	finished func(StreamResult) error) error {
	req, err := s.chatRequest(userID, in)
	if err != nil {
		return err
	}
	c, err := s.beginCall(ctx, userID, model.KindChat, req.Model, s.chatEstimate(ctx, req))
	if err != nil {
		return err
	}
	stream, err := s.client.ChatCompletionStream(ctx, req)
	if err != nil {
		c.finish(ctx, err, nil, "")
		return err
	}
	defer stream.Close()
	if finished == nil {
		finished = func(StreamResult) error { return nil }
	}
	generationID := ""
	var text strings.Builder
	result := func(complete bool) StreamResult {
		return StreamResult{Text: text.String(), Model: modelOr(c.record.Model, req.Model), Complete: complete}
	}
	for {
		event, err := stream.Next()
		if errors.Is(err, io.EOF) {
			c.finish(ctx, nil, stream.Usage(), generationID)
			if err := finished(result(true)); err != nil {
				s.emitFailure(err, emit)
				return nil
			}
			_ = emit([]byte("[DONE]"))
			return nil
		}
		if err != nil {
			c.finish(ctx, err, stream.Usage(), generationID)
			_ = finished(result(false)) // upstream's failure is what the client hears about
			s.emitFailure(err, emit)
			return nil
		}
		if generationID == "" {
			generationID = event.Chunk.ID
			if event.Chunk.Model != "" {
				c.record.Model = event.Chunk.Model
			}
		}
		if err := emit(event.Data); err != nil {
			// The client is gone: closing the stream (deferred) cancels upstream.
			c.finish(ctx, context.Canceled, stream.Usage(), generationID)
			_ = finished(result(false)) // nobody to tell
			return nil
		}
		text.WriteString(event.Chunk.Text())
	}
}

// emitFailure tells a streaming client that the answer failed after it
// began (upstream failed mid-stream, or it could not be saved), unless the
// failure is the client leaving (nobody to tell).
func (s *Service) emitFailure(err error, emit func([]byte) error) {
	if oe, ok := errors.AsType[*openrouter.Error](err); ok && oe.Kind == openrouter.KindCanceled {
		return
	}
	s.log.Warn("chat stream failed after it began", "err", err)
	code, detail := s.opts.Describe(err)
	data, _ := json.Marshal(struct {
		Error api.StreamError `json:"error"`
	}{api.StreamError{Code: code, Message: detail}})
	if emit(data) == nil {
		_ = emit([]byte("[DONE]"))
	}
}

// chatRequest validates a conversation and builds the upstream request.
func (s *Service) chatRequest(userID uuid.UUID, in api.ChatRequest) (openrouter.ChatRequest, error) {
	fields := checkMessages(in.Messages)
	fields = append(fields, checkModelID(in.Model)...)
	fields = append(fields, checkSampling(in.Temperature, in.MaxTokens)...)
	if err := s.configuredAndValid(fields); err != nil {
		return openrouter.ChatRequest{}, err
	}
	messages := make([]openrouter.Message, len(in.Messages))
	for i, m := range in.Messages {
		messages[i] = openrouter.Message{Role: m.Role, Content: openrouter.Content(m.Content)}
	}
	return openrouter.ChatRequest{Model: modelOr(in.Model, s.opts.DefaultTextModel), Messages: messages,
		Temperature: in.Temperature, MaxTokens: in.MaxTokens, UserID: userID.String()}, nil
}

// configuredAndValid reports 503 first (nothing can be done without a key),
// then the invalid fields.
func (s *Service) configuredAndValid(fields []model.FieldError) error {
	if err := s.configured(); err != nil {
		return err
	}
	if len(fields) > 0 {
		return model.Invalid(fields...)
	}
	return nil
}

func checkMessages(messages []api.ChatMessage) []model.FieldError {
	if len(messages) == 0 {
		return []model.FieldError{model.Field("messages", "must hold at least one message")}
	}
	if len(messages) > MaxMessages {
		return []model.FieldError{model.Field("messages", fmt.Sprintf("may hold at most %d messages", MaxMessages))}
	}
	var fields []model.FieldError
	total := 0
	for i, m := range messages {
		name := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case api.ChatRoleSystem, api.ChatRoleUser, api.ChatRoleAssistant:
		default:
			fields = append(fields, model.Field(name+".role", "must be system, user or assistant"))
		}
		if strings.TrimSpace(m.Content) == "" {
			fields = append(fields, model.Field(name+".content", "must not be empty"))
		}
		total += len(m.Content)
	}
	if total > MaxConversationBytes {
		fields = append(fields, model.Field("messages", fmt.Sprintf("the messages may hold at most %d bytes in total", MaxConversationBytes)))
	}
	return fields
}

func checkModelID(modelID string) []model.FieldError {
	if len(modelID) > maxModelIDLength || strings.ContainsAny(modelID, " \t\r\n") {
		return []model.FieldError{model.Field("model", "must be a model id such as openai/gpt-4o-mini (see GET /ai/models)")}
	}
	return nil
}

func checkSampling(temperature *float64, maxTokens *int) []model.FieldError {
	var fields []model.FieldError
	if temperature != nil && (*temperature < 0 || *temperature > 2) {
		fields = append(fields, model.Field("temperature", "must be between 0 and 2"))
	}
	if maxTokens != nil && *maxTokens < 1 {
		fields = append(fields, model.Field("max_tokens", "must be at least 1"))
	}
	return fields
}

func modelOr(modelID, fallback string) string {
	if modelID == "" {
		return fallback
	}
	return modelID
}

func fromUsage(u *openrouter.Usage) api.Usage {
	if u == nil {
		return api.Usage{}
	}
	return api.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens, Cost: u.Cost}
}
