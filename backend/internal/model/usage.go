package model

import (
	"time"

	"github.com/google/uuid"
)

// Usage kinds: what an upstream generation call was for.
const (
	KindChat  = "chat"
	KindText  = "text"
	KindImage = "image"
	KindVideo = "video"
)

// UsageStatusOK is the status of a successful call.
const UsageStatusOK = "ok"

// UsageRecord is one upstream generation call of the AI gateway.
type UsageRecord struct {
	ID               uuid.UUID // filled in on insert when zero
	At               time.Time
	UserID           uuid.UUID
	Kind             string // KindChat, KindText, KindImage or KindVideo
	Model            string
	Status           string // UsageStatusOK or the HTTP status answered ("502", "499")
	LatencyMS        float64
	PromptTokens     int
	CompletionTokens int
	Cost             *float64 // OpenRouter's own usage.cost, when it said
	GenerationID     string
	ErrorKind        string
	// Reservation is the budget reservation this record settles (uuid.Nil
	// for none): the store frees it in the write that stores the record.
	Reservation uuid.UUID
}

// AIStats is the ai part of the admin stats.
type AIStats struct {
	Requests int
	ByModel  []ModelUsage
}

// ModelUsage is one model's share of AIStats.
type ModelUsage struct {
	Model    string
	Requests int
	Tokens   int
}

// Groupings of a usage report.
const (
	UsageByModel = "model"
	UsageByUser  = "user"
	UsageByDay   = "day"
)

// UsageRow is one group of a usage report.
type UsageRow struct {
	Key              string
	Requests         int
	Errors           int
	PromptTokens     int
	CompletionTokens int
	Cost             float64
	AvgLatencyMS     float64
}
