// Package workspace keeps users' conversations on the server: listing and
// search, rename, pin, delete, and the turns of a conversation (send,
// regenerate the last answer, edit a message and continue), each answer
// streamed from the AI gateway and stored when it ends, also when it was
// cut short. Only the owner reads a conversation; admins see counts.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/ai"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Store is what the workspace needs from storage.
type Store interface {
	CreateConversation(ctx context.Context, c model.Conversation) error
	Conversation(ctx context.Context, user, id uuid.UUID) (model.Conversation, []model.Message, error)
	ListConversations(ctx context.Context, f model.ConversationFilter) (model.ConversationPage, error)
	UpdateConversation(ctx context.Context, user, id uuid.UUID, change model.ConversationChange) (model.Conversation, error)
	DeleteConversation(ctx context.Context, user, id uuid.UUID) error
	ReplaceMessages(ctx context.Context, user, id uuid.UUID, count, from int, msgs []model.Message, title string) error
}

// AI is the gateway the answers come from.
type AI interface {
	StreamChat(ctx context.Context, userID uuid.UUID, in api.ChatRequest, emit func([]byte) error,
		finished func(ai.StreamResult) error) error
	GenerateText(ctx context.Context, userID uuid.UUID, in api.TextRequest) (api.TextResponse, error)
}

// Limits of what a conversation holds.
const (
	MaxTitleRunes        = 200
	MaxSystemPromptBytes = 32 << 10
	// MaxMessageBytes bounds one message; the history sent upstream is cut
	// to ai.MaxConversationBytes from its oldest end.
	MaxMessageBytes = ai.MaxConversationBytes
)

// Service holds the workspace's rules.
type Service struct {
	store Store
	ai    AI
	log   *slog.Logger
	now   func() time.Time
	// titles are written in the background after a first exchange; Close
	// waits for them.
	titles sync.WaitGroup
}

// NewService wires the workspace.
func NewService(st Store, gateway AI, logger *slog.Logger, now func() time.Time) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{store: st, ai: gateway, log: logger, now: now}
}

// Close waits for titles being written.
func (s *Service) Close() { s.titles.Wait() }

// List pages through the caller's conversations.
func (s *Service) List(ctx context.Context, user uuid.UUID, query string, limit, offset int) (api.ConversationList, error) {
	page, err := s.store.ListConversations(ctx, model.ConversationFilter{UserID: user, Query: strings.TrimSpace(query), Limit: limit, Offset: offset})
	if err != nil {
		return api.ConversationList{}, fmt.Errorf("workspace: list: %w", err)
	}
	out := api.ConversationList{Items: make([]api.Conversation, 0, len(page.Items)), Total: page.Total}
	for _, c := range page.Items {
		out.Items = append(out.Items, toConversation(c))
	}
	return out, nil
}

// Create starts a conversation.
func (s *Service) Create(ctx context.Context, user uuid.UUID, in api.NewConversationRequest) (api.Conversation, error) {
	var fields model.Fields
	checkTitle(&fields, in.Title)
	checkModel(&fields, in.Model)
	checkSystemPrompt(&fields, in.SystemPrompt)
	if err := fields.Err(); err != nil {
		return api.Conversation{}, err
	}
	c := model.NewConversation(user, s.now())
	c.Title, c.Model, c.SystemPrompt = strings.TrimSpace(in.Title), in.Model, in.SystemPrompt
	if err := s.store.CreateConversation(ctx, c); err != nil {
		return api.Conversation{}, fmt.Errorf("workspace: create: %w", err)
	}
	return toConversation(c), nil
}

// Get returns a conversation of the caller with its messages.
func (s *Service) Get(ctx context.Context, user uuid.UUID, rawID string) (api.ConversationDetail, error) {
	c, msgs, err := s.load(ctx, user, rawID)
	if err != nil {
		return api.ConversationDetail{}, err
	}
	return toDetail(c, msgs), nil
}

// Update renames, pins or changes the model or system prompt.
func (s *Service) Update(ctx context.Context, user uuid.UUID, rawID string, in api.ConversationPatch) (api.Conversation, error) {
	id, err := conversationID(rawID)
	if err != nil {
		return api.Conversation{}, err
	}
	var fields model.Fields
	change := model.ConversationChange{Pinned: in.Pinned, Model: in.Model, SystemPrompt: in.SystemPrompt}
	if in.Title != nil {
		title := strings.TrimSpace(*in.Title)
		if title == "" {
			fields.Add("title", "must not be empty")
		}
		checkTitle(&fields, title)
		change.Title = &title
	}
	if in.Model != nil {
		checkModel(&fields, *in.Model)
	}
	if in.SystemPrompt != nil {
		checkSystemPrompt(&fields, *in.SystemPrompt)
	}
	if in.Title == nil && in.Pinned == nil && in.Model == nil && in.SystemPrompt == nil {
		fields.Add("title", "give a title, pinned, model or system_prompt to change")
	}
	if err := fields.Err(); err != nil {
		return api.Conversation{}, err
	}
	c, err := s.store.UpdateConversation(ctx, user, id, change)
	if err != nil {
		return api.Conversation{}, notFound(err, "update")
	}
	return toConversation(c), nil
}

// Delete deletes a conversation of the caller.
func (s *Service) Delete(ctx context.Context, user uuid.UUID, rawID string) error {
	id, err := conversationID(rawID)
	if err != nil {
		return err
	}
	return notFound(s.store.DeleteConversation(ctx, user, id), "delete")
}

// Send adds the caller's message and streams the answer through emit; the
// exchange is stored when the answer ends. An error means the answer could
// not begin and nothing was stored.
func (s *Service) Send(ctx context.Context, user uuid.UUID, rawID string, in api.SendMessageRequest, emit func([]byte) error) error {
	c, msgs, err := s.load(ctx, user, rawID)
	if err != nil {
		return err
	}
	if err := checkContent(in.Content); err != nil {
		return err
	}
	question := model.Message{Role: api.ChatRoleUser, Content: in.Content}
	return s.answer(ctx, c, msgs, len(msgs), question, chatOptions{model: in.Model, temperature: in.Temperature, maxTokens: in.MaxTokens}, emit)
}

// Regenerate replaces the last answer with a new one (or answers the last
// message when it has no answer yet).
func (s *Service) Regenerate(ctx context.Context, user uuid.UUID, rawID string, in api.RegenerateRequest, emit func([]byte) error) error {
	c, msgs, err := s.load(ctx, user, rawID)
	if err != nil {
		return err
	}
	from := len(msgs)
	if from > 0 && msgs[from-1].Role == api.ChatRoleAssistant {
		from--
	}
	if from == 0 {
		return model.ErrNothingToRegenerate
	}
	return s.answer(ctx, c, msgs, from, model.Message{}, chatOptions{model: in.Model}, emit)
}

// Edit replaces one of the caller's messages, drops what followed it, and
// streams a new answer.
func (s *Service) Edit(ctx context.Context, user uuid.UUID, rawID, rawMessageID string, in api.EditMessageRequest, emit func([]byte) error) error {
	c, msgs, err := s.load(ctx, user, rawID)
	if err != nil {
		return err
	}
	msgID, err := uuid.Parse(rawMessageID)
	if err != nil {
		return model.ErrMessageNotFound
	}
	at := -1
	for i, m := range msgs {
		if m.ID == msgID && m.Role == api.ChatRoleUser {
			at = i
		}
	}
	if at < 0 {
		return model.ErrMessageNotFound
	}
	if err := checkContent(in.Content); err != nil {
		return err
	}
	question := model.Message{Role: api.ChatRoleUser, Content: in.Content}
	return s.answer(ctx, c, msgs, at, question, chatOptions{}, emit)
}

type chatOptions struct {
	model       string
	temperature *float64
	maxTokens   *int
}

// answer streams an answer to msgs[:from] plus question (when it has a
// role), then stores question and answer from seq from on.
func (s *Service) answer(ctx context.Context, c model.Conversation, msgs []model.Message, from int, question model.Message,
	opts chatOptions, emit func([]byte) error) error {
	history := append([]model.Message(nil), msgs[:from]...)
	if question.Role != "" {
		history = append(history, question)
	}
	modelID := opts.model
	if modelID == "" {
		modelID = c.Model
	}
	req := api.ChatRequest{Model: modelID, Messages: chatMessages(c.SystemPrompt, history), Temperature: opts.temperature, MaxTokens: opts.maxTokens}
	title := ""
	if c.Title == "" && question.Role != "" {
		title = fallbackTitle(question.Content)
	}
	return s.ai.StreamChat(ctx, c.UserID, req, emit, func(r ai.StreamResult) error {
		var kept []model.Message
		if question.Role != "" {
			kept = append(kept, question)
		}
		kept = append(kept, model.Message{Role: api.ChatRoleAssistant, Content: r.Text, Model: r.Model, CutShort: !r.Complete})
		// The client may have gone: the exchange is kept all the same.
		err := s.store.ReplaceMessages(context.WithoutCancel(ctx), c.UserID, c.ID, len(msgs), from, kept, title)
		if err != nil {
			return fmt.Errorf("workspace: keep the exchange: %w", err)
		}
		if title != "" && r.Complete {
			s.writeTitle(c, question.Content, title)
		}
		return nil
	})
}

// chatMessages is what goes upstream: the system prompt, then as much of
// the history as fits ai.MaxConversationBytes, newest kept.
func chatMessages(systemPrompt string, history []model.Message) []api.ChatMessage {
	// The newest message always goes (the gateway refuses it if it is too
	// large with what must come with it); older ones while they fit.
	start := max(len(history)-1, 0)
	budget := ai.MaxConversationBytes - len(systemPrompt) - len(history[start].Content)
	for start > 0 && budget-len(history[start-1].Content) >= 0 && len(history)-start < ai.MaxMessages-1 {
		start--
		budget -= len(history[start].Content)
	}
	var out []api.ChatMessage
	if strings.TrimSpace(systemPrompt) != "" {
		out = append(out, api.ChatMessage{Role: api.ChatRoleSystem, Content: systemPrompt})
	}
	for _, m := range history[start:] {
		if strings.TrimSpace(m.Content) == "" {
			continue // an answer stopped before its first word
		}
		out = append(out, api.ChatMessage{Role: m.Role, Content: m.Content})
	}
	return out
}

// writeTitle asks the default text model for a short title after the
// first exchange, in the background; the first words stay if it fails or
// if the owner renamed the conversation meanwhile.
func (s *Service) writeTitle(c model.Conversation, firstMessage, fallback string) {
	s.titles.Add(1)
	go func() {
		defer s.titles.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		maxTokens := 24
		out, err := s.ai.GenerateText(ctx, c.UserID, api.TextRequest{MaxTokens: &maxTokens,
			SystemPrompt: "You name conversations. Answer with a title of at most six words for the conversation that " +
				"starts with the user's message: no quotes, no final punctuation.",
			Prompt: clip(firstMessage, 2000)})
		if err != nil {
			s.log.Debug("conversation title: keeping the first words", "conversation", c.ID, "err", err)
			return
		}
		title := cleanTitle(out.Text)
		if title == "" {
			return
		}
		current, _, err := s.store.Conversation(ctx, c.UserID, c.ID)
		if err != nil || current.Title != fallback {
			return // deleted, or renamed by its owner
		}
		if _, err := s.store.UpdateConversation(ctx, c.UserID, c.ID, model.ConversationChange{Title: &title}); err != nil {
			s.log.Warn("conversation title not saved", "conversation", c.ID, "err", err)
		}
	}()
}

// fallbackTitle is the first words of a message, up to 48 characters.
func fallbackTitle(content string) string {
	words := strings.Fields(content)
	var b strings.Builder
	for _, w := range words {
		if b.Len() > 0 && utf8.RuneCountInString(b.String())+1+utf8.RuneCountInString(w) > 48 {
			b.WriteString("…")
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	if b.Len() == 0 {
		return "New conversation"
	}
	return clip(b.String(), MaxTitleRunes)
}

// cleanTitle makes a model's answer a title: one line, no quotes or
// trailing punctuation, at most 80 characters.
func cleanTitle(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimFunc(line, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`"'“”‘’*#`, r) })
	line = strings.TrimRight(line, ".!?:;")
	return clip(strings.Join(strings.Fields(line), " "), 80)
}

func clip(s string, runes int) string {
	if utf8.RuneCountInString(s) <= runes {
		return s
	}
	return string([]rune(s)[:runes])
}

// load reads a conversation of the caller.
func (s *Service) load(ctx context.Context, user uuid.UUID, rawID string) (model.Conversation, []model.Message, error) {
	id, err := conversationID(rawID)
	if err != nil {
		return model.Conversation{}, nil, err
	}
	c, msgs, err := s.store.Conversation(ctx, user, id)
	if err != nil {
		return model.Conversation{}, nil, notFound(err, "read")
	}
	return c, msgs, nil
}

func conversationID(raw string) (uuid.UUID, error) {
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, model.ErrConversationNotFound
	}
	return id, nil
}

// notFound names the store's ErrNotFound as the conversation's.
func notFound(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, model.ErrNotFound):
		return model.ErrConversationNotFound
	}
	return fmt.Errorf("workspace: %s: %w", what, err)
}

func checkContent(content string) error {
	switch {
	case strings.TrimSpace(content) == "":
		return model.Invalid(model.Field("content", "must not be empty"))
	case len(content) > MaxMessageBytes:
		return model.Invalid(model.Field("content", fmt.Sprintf("is %d KB; a message may hold at most %d KB", len(content)>>10, MaxMessageBytes>>10)))
	case !utf8.ValidString(content):
		return model.Invalid(model.Field("content", "must be valid UTF-8"))
	}
	return nil
}

func checkTitle(fields *model.Fields, title string) {
	if utf8.RuneCountInString(title) > MaxTitleRunes {
		fields.Add("title", fmt.Sprintf("may have at most %d characters", MaxTitleRunes))
	}
}

func checkModel(fields *model.Fields, modelID string) {
	if len(modelID) > 200 || strings.ContainsAny(modelID, " \t\r\n") {
		fields.Add("model", "must be a model id such as openai/gpt-4o-mini (see GET /ai/models)")
	}
}

func checkSystemPrompt(fields *model.Fields, prompt string) {
	if len(prompt) > MaxSystemPromptBytes {
		fields.Add("system_prompt", fmt.Sprintf("may hold at most %d KB", MaxSystemPromptBytes>>10))
	}
}

func toConversation(c model.Conversation) api.Conversation {
	return api.Conversation{ID: c.ID.String(), Title: c.Title, Pinned: c.Pinned, Model: c.Model, SystemPrompt: c.SystemPrompt,
		MessageCount: c.MessageCount, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

func toDetail(c model.Conversation, msgs []model.Message) api.ConversationDetail {
	out := api.ConversationDetail{Conversation: toConversation(c), Messages: make([]api.ConversationMessage, 0, len(msgs))}
	for _, m := range msgs {
		out.Messages = append(out.Messages, api.ConversationMessage{ID: m.ID.String(), Seq: m.Seq, Role: m.Role,
			Content: m.Content, Model: m.Model, CutShort: m.CutShort, CreatedAt: m.CreatedAt.UTC()})
	}
	return out
}
