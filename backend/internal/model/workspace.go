package model

import (
	"time"

	"github.com/google/uuid"
)

// Conversation is a chat kept on the server for its owner.
type Conversation struct {
	ID           uuid.UUID
	UserID       uuid.UUID
	Title        string
	Pinned       bool
	Model        string // "" for the default text model
	SystemPrompt string
	CreatedAt    time.Time
	UpdatedAt    time.Time // the last message or change
	MessageCount int       // filled in by listings and reads
}

// NewConversation starts a conversation of user at now.
func NewConversation(user uuid.UUID, now time.Time) Conversation {
	now = now.UTC().Truncate(time.Microsecond)
	return Conversation{ID: uuid.Must(uuid.NewV7()), UserID: user, CreatedAt: now, UpdatedAt: now}
}

// Message is one turn of a conversation, numbered from 0 in order.
type Message struct {
	ID             uuid.UUID
	ConversationID uuid.UUID
	Seq            int
	Role           string // RoleUser or RoleAssistant of api.ChatRole*
	Content        string
	Model          string // the model that wrote an assistant message
	// CutShort marks an answer that ended before the model finished: the
	// client went away, or upstream failed mid-stream.
	CutShort  bool
	CreatedAt time.Time
}

// ConversationChange edits a conversation; nil fields stay.
type ConversationChange struct {
	Title        *string
	Pinned       *bool
	Model        *string
	SystemPrompt *string
}

// ConversationFilter selects a user's conversations: Query matches titles
// and message text (case-insensitively, literally).
type ConversationFilter struct {
	UserID uuid.UUID
	Query  string
	Limit  int
	Offset int
}

// ConversationPage is one page of a listing, pinned ones first, then the
// most recently updated.
type ConversationPage struct {
	Items []Conversation
	Total int
}

// StoredImage is a generated image kept for its owner. Content is filled
// only when the bytes are asked for.
type StoredImage struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	Prompt    string
	Model     string
	MediaType string
	Bytes     int64
	SHA256    string
	Content   []byte
	CreatedAt time.Time
}

// WorkspaceCounts are what admins see of the workspace: counts, never
// contents.
type WorkspaceCounts struct {
	Conversations int
	Messages      int
	Images        int
	ImageBytes    int64
}
