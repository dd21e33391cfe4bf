package api

import (
	"slices"
	"time"
)

// Output modalities a model can have, as used by GET /ai/models?modality=.
const (
	ModalityText  = "text"
	ModalityImage = "image"
	ModalityVideo = "video"
)

// Model is one entry of GET /ai/models.
type Model struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	ContextLength    int               `json:"context_length"`
	InputModalities  []string          `json:"input_modalities"`
	OutputModalities []string          `json:"output_modalities"`
	Pricing          map[string]string `json:"pricing"`
	// Video models publish their allowed parameters (empty when unknown).
	SupportedDurations    []int    `json:"supported_durations,omitempty"`
	SupportedResolutions  []string `json:"supported_resolutions,omitempty"`
	SupportedAspectRatios []string `json:"supported_aspect_ratios,omitempty"`
}

// chatImageAspectRatios are the aspect ratios OpenRouter's image_config
// takes for images generated through chat completions.
var chatImageAspectRatios = []string{"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}

// ChatImageAspectRatios returns the aspect ratios POST /generate/image
// accepts for models that make images through chat completions (models of
// OpenRouter's dedicated image endpoint publish their own): the backend
// checks requests against them and the frontend offers them. The slice is
// a copy, the caller's to change.
func ChatImageAspectRatios() []string { return slices.Clone(chatImageAspectRatios) }

// ModelList is the body of GET /ai/models.
type ModelList struct {
	Data []Model `json:"data"`
}

// Chat roles.
const (
	ChatRoleSystem    = "system"
	ChatRoleUser      = "user"
	ChatRoleAssistant = "assistant"
)

// ChatMessage is one turn of a conversation.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is the body of POST /ai/chat.
type ChatRequest struct {
	Model       string        `json:"model,omitempty"`
	Messages    []ChatMessage `json:"messages"`
	Temperature *float64      `json:"temperature,omitempty"`
	MaxTokens   *int          `json:"max_tokens,omitempty"`
	Stream      bool          `json:"stream,omitempty"`
}

// Usage counts the tokens of one call.
type Usage struct {
	PromptTokens     int      `json:"prompt_tokens"`
	CompletionTokens int      `json:"completion_tokens"`
	TotalTokens      int      `json:"total_tokens"`
	Cost             *float64 `json:"cost,omitempty"`
}

// ChatResponse is the non-streaming answer of POST /ai/chat.
type ChatResponse struct {
	ID      string      `json:"id"`
	Model   string      `json:"model"`
	Message ChatMessage `json:"message"`
	Usage   Usage       `json:"usage"`
}

// ChatChunk is one event of a streaming chat (OpenAI's chat.completion.chunk).
type ChatChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []ChatChunkChoice `json:"choices"`
	Usage   *Usage            `json:"usage,omitempty"`
	Error   *StreamError      `json:"error,omitempty"`
}

// ChatChunkChoice carries the delta of one chunk.
type ChatChunkChoice struct {
	Index        int       `json:"index"`
	Delta        ChatDelta `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
}

// ChatDelta is the text added by one chunk.
type ChatDelta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content,omitempty"`
}

// StreamError is the error event that ends a stream which failed after it
// began: data: {"error": {"code", "message"}}.
type StreamError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// TextRequest is the body of POST /generate/text.
type TextRequest struct {
	Prompt       string   `json:"prompt"`
	SystemPrompt string   `json:"system_prompt,omitempty"`
	Model        string   `json:"model,omitempty"`
	MaxTokens    *int     `json:"max_tokens,omitempty"`
	Temperature  *float64 `json:"temperature,omitempty"`
}

// TextResponse is the body answered by POST /generate/text.
type TextResponse struct {
	Text  string `json:"text"`
	Model string `json:"model"`
	Usage Usage  `json:"usage"`
}

// ImageRequest is the body of POST /generate/image.
type ImageRequest struct {
	Prompt      string `json:"prompt"`
	Model       string `json:"model,omitempty"`
	AspectRatio string `json:"aspect_ratio,omitempty"`
}

// Image is one generated image; URL may be a data: URL.
type Image struct {
	URL string `json:"url"`
	// ID and ContentURL name the kept copy (GET /generate/image/{id}/content)
	// when the image was stored for the caller.
	ID         string `json:"id,omitempty"`
	ContentURL string `json:"content_url,omitempty"`
}

// ImageResponse is the body answered by POST /generate/image.
type ImageResponse struct {
	Model  string  `json:"model"`
	Images []Image `json:"images"`
	Text   string  `json:"text,omitempty"`
}

// VideoRequest is the body of POST /generate/video.
type VideoRequest struct {
	Prompt      string `json:"prompt"`
	Model       string `json:"model,omitempty"`
	Duration    *int   `json:"duration,omitempty"`
	Resolution  string `json:"resolution,omitempty"`
	AspectRatio string `json:"aspect_ratio,omitempty"`
}

// VideoFromImageRequest is the body of POST /generate/video/from-image.
// ImageURL is an https URL or a data: URL of a PNG, JPEG or WebP image.
type VideoFromImageRequest struct {
	VideoRequest
	ImageURL string `json:"image_url"`
}

// Video job states. Completed, failed, cancelled and expired are terminal.
const (
	VideoPending    = "pending"
	VideoInProgress = "in_progress"
	VideoCompleted  = "completed"
	VideoFailed     = "failed"
	VideoCancelled  = "cancelled"
	VideoExpired    = "expired"
)

// VideoJob is an asynchronous video generation.
type VideoJob struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Model      string    `json:"model"`
	Prompt     string    `json:"prompt"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Error      string    `json:"error,omitempty"`
	ContentURL string    `json:"content_url,omitempty"`
	Cost       *float64  `json:"cost,omitempty"`
}

// VideoJobList is a page of the caller's video jobs, newest first.
type VideoJobList struct {
	Items []VideoJob `json:"items"`
	Total int        `json:"total"`
}

// UsageReport is the body of GET /admin/usage.
type UsageReport struct {
	Days    int        `json:"days"`
	GroupBy string     `json:"group_by"`
	Rows    []UsageRow `json:"rows"`
}

// UsageRow is one group of GET /admin/usage: Key is a model id, a user id or
// a day (YYYY-MM-DD) depending on group_by.
type UsageRow struct {
	Key              string  `json:"key"`
	Requests         int     `json:"requests"`
	Errors           int     `json:"errors"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	Cost             float64 `json:"cost"`
	AvgLatencyMS     float64 `json:"avg_latency_ms"`
}

// IsTerminal reports whether a video job status will not change any more.
func IsTerminal(status string) bool {
	switch status {
	case VideoCompleted, VideoFailed, VideoCancelled, VideoExpired:
		return true
	}
	return false
}
