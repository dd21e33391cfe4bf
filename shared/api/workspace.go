package api

import "time"

// Conversation is a chat kept on the server (GET /conversations…).
type Conversation struct {
	ID           string    `json:"id"`
	Title        string    `json:"title"`
	Pinned       bool      `json:"pinned"`
	Model        string    `json:"model,omitempty"`         // "" for the default text model
	SystemPrompt string    `json:"system_prompt,omitempty"` // sent before the history
	MessageCount int       `json:"message_count"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// ConversationList is a page of the caller's conversations: pinned ones
// first, then the most recently updated.
type ConversationList struct {
	Items []Conversation `json:"items"`
	Total int            `json:"total"`
}

// ConversationMessage is one turn of a kept conversation.
type ConversationMessage struct {
	ID      string `json:"id"`
	Seq     int    `json:"seq"`
	Role    string `json:"role"` // user or assistant
	Content string `json:"content"`
	Model   string `json:"model,omitempty"` // the model that wrote an answer
	// CutShort marks an answer that ended early: stopped by the user, the
	// client went away, or the AI provider failed mid-answer.
	CutShort  bool      `json:"cut_short"`
	CreatedAt time.Time `json:"created_at"`
}

// ConversationDetail is a conversation with its messages, in order.
type ConversationDetail struct {
	Conversation
	Messages []ConversationMessage `json:"messages"`
}

// NewConversationRequest is the body of POST /conversations; all optional.
type NewConversationRequest struct {
	Title        string `json:"title,omitempty"`
	Model        string `json:"model,omitempty"`
	SystemPrompt string `json:"system_prompt,omitempty"`
}

// ConversationPatch is the body of PATCH /conversations/{id}; absent fields
// stay as they are.
type ConversationPatch struct {
	Title        *string `json:"title,omitempty"`
	Pinned       *bool   `json:"pinned,omitempty"`
	Model        *string `json:"model,omitempty"`
	SystemPrompt *string `json:"system_prompt,omitempty"`
}

// SendMessageRequest is the body of POST /conversations/{id}/messages: the
// user's message. The answer streams back like POST /ai/chat's.
type SendMessageRequest struct {
	Content     string   `json:"content"`
	Model       string   `json:"model,omitempty"` // this answer only; PATCH the conversation to keep it
	Temperature *float64 `json:"temperature,omitempty"`
	MaxTokens   *int     `json:"max_tokens,omitempty"`
}

// EditMessageRequest is the body of PUT /conversations/{id}/messages/{messageId}:
// the new text of a user message; the conversation continues from there.
type EditMessageRequest struct {
	Content string `json:"content"`
}

// RegenerateRequest is the body of POST /conversations/{id}/regenerate.
type RegenerateRequest struct {
	Model string `json:"model,omitempty"`
}

// StoredImage is a generated image kept for its owner (GET /generate/image).
type StoredImage struct {
	ID         string    `json:"id"`
	Prompt     string    `json:"prompt"`
	Model      string    `json:"model"`
	MediaType  string    `json:"media_type"`
	Bytes      int64     `json:"bytes"`
	ContentURL string    `json:"content_url"`
	CreatedAt  time.Time `json:"created_at"`
}

// ImageList is a page of the caller's images, newest first, and how much of
// their storage they use.
type ImageList struct {
	Items      []StoredImage `json:"items"`
	Total      int           `json:"total"`
	UsedBytes  int64         `json:"used_bytes"`
	QuotaBytes int64         `json:"quota_bytes"`
}

// WorkspaceStats counts what users keep, for GET /admin/stats: counts
// only, never contents.
type WorkspaceStats struct {
	Conversations int   `json:"conversations"`
	Messages      int   `json:"messages"`
	Images        int   `json:"images"`
	ImageBytes    int64 `json:"image_bytes"`
}
