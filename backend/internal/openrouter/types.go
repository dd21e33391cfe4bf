package openrouter

import (
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// Model is one entry of GET /models.
type Model struct {
	ID            string `json:"id"`
	CanonicalSlug string `json:"canonical_slug"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	Created       int64  `json:"created"`
	// ContextLength is 0 when upstream does not know it.
	ContextLength       int               `json:"context_length"`
	Architecture        ModelArchitecture `json:"architecture"`
	Pricing             Pricing           `json:"pricing"`
	TopProvider         TopProvider       `json:"top_provider"`
	SupportedParameters []string          `json:"supported_parameters"`
}

// ModelArchitecture says what a model takes and produces.
type ModelArchitecture struct {
	Modality         string   `json:"modality"`
	InputModalities  []string `json:"input_modalities"`
	OutputModalities []string `json:"output_modalities"`
}

// TopProvider holds the limits of a model's main provider.
type TopProvider struct {
	ContextLength       int  `json:"context_length"`
	MaxCompletionTokens int  `json:"max_completion_tokens"`
	IsModerated         bool `json:"is_moderated"`
}

// Pricing maps a price name ("prompt", "completion", "image", "request"...)
// to its price in dollars per unit, as the decimal string upstream sends.
// Non-string entries of upstream's pricing object are left out.
type Pricing map[string]string

// UnmarshalJSON keeps the string-valued prices.
func (p *Pricing) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	prices := make(Pricing, len(raw))
	for name, value := range raw {
		var s string
		if json.Unmarshal(value, &s) == nil {
			prices[name] = s
		}
	}
	*p = prices
	return nil
}

// ImageModalities is the `modalities` to request from m when asking it for an
// image (see ImageModalities).
func (m Model) ImageModalities() []string { return ImageModalities(m.Architecture.OutputModalities) }

// ImageModalities decides the chat `modalities` for image generation from a
// model's output modalities: models that also write text take
// ["image","text"], image-only models take ["image"] (upstream rejects
// "text" for them).
func ImageModalities(outputModalities []string) []string {
	if slices.Contains(outputModalities, "text") {
		return []string{"image", "text"}
	}
	return []string{"image"}
}

// VideoModel is one entry of GET /videos/models.
type VideoModel struct {
	ID                    string            `json:"id"`
	CanonicalSlug         string            `json:"canonical_slug"`
	Name                  string            `json:"name"`
	Description           string            `json:"description"`
	Created               int64             `json:"created"`
	SupportedDurations    []int             `json:"supported_durations"`
	SupportedResolutions  []string          `json:"supported_resolutions"`
	SupportedAspectRatios []string          `json:"supported_aspect_ratios"`
	SupportedSizes        []string          `json:"supported_sizes"`
	SupportedFrameImages  []string          `json:"supported_frame_images"`
	GenerateAudio         *bool             `json:"generate_audio"`
	PricingSKUs           map[string]string `json:"pricing_skus"`
}

// ImageModel is one entry of GET /images/models.
type ImageModel struct {
	ID                  string                `json:"id"`
	Name                string                `json:"name"`
	Description         string                `json:"description"`
	Created             int64                 `json:"created"`
	Architecture        ModelArchitecture     `json:"architecture"`
	SupportedParameters map[string]Capability `json:"supported_parameters"`
	SupportsStreaming   bool                  `json:"supports_streaming"`
}

// Capability describes one supported parameter of an image model: Type is
// "enum" (Values), "range" (Min, Max) or "boolean".
type Capability struct {
	Type   string   `json:"type"`
	Values []string `json:"values,omitempty"`
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
}

// Usage counts the tokens and cost of one call.
type Usage struct {
	PromptTokens     int      `json:"prompt_tokens"`
	CompletionTokens int      `json:"completion_tokens"`
	TotalTokens      int      `json:"total_tokens"`
	Cost             *float64 `json:"cost,omitempty"`
}

// Chat roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a message's text. Upstream may send a string, null or an array
// of content parts; the text parts are joined.
type Content string

// UnmarshalJSON accepts a string, null or an array of {"type","text"} parts.
func (c *Content) UnmarshalJSON(data []byte) error {
	if text, ok := plainString(data); ok {
		*c = Content(text)
		return nil
	}
	var s *string
	if err := json.Unmarshal(data, &s); err == nil {
		if s != nil {
			*c = Content(*s)
		} else {
			*c = ""
		}
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(data, &parts); err != nil {
		return err
	}
	var text string
	for _, p := range parts {
		if p.Type == "text" {
			text += p.Text
		}
	}
	*c = Content(text)
	return nil
}

// plainString is the value of a JSON string token that needs no unescaping
// (no backslash, quote or control character, valid UTF-8), read without a
// second parse: the common case of every answer's and every streamed chunk's
// content. Anything else takes the full decoder.
func plainString(data []byte) (string, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return "", false
	}
	inner := data[1 : len(data)-1]
	for _, b := range inner {
		if b == '\\' || b == '"' || b < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// ChatRequest is a chat completion to send. UserID is our user's id: the
// client hashes it into OpenRouter's `user` field (never sent raw) and
// refuses requests without it.
type ChatRequest struct {
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	Temperature *float64  `json:"temperature,omitempty"`
	MaxTokens   *int      `json:"max_tokens,omitempty"`
	// Modalities asks for images: see ImageModalities.
	Modalities  []string     `json:"modalities,omitempty"`
	ImageConfig *ImageConfig `json:"image_config,omitempty"`
	UserID      string       `json:"-"`
}

// ImageConfig tunes image generation through chat.
type ImageConfig struct {
	AspectRatio string `json:"aspect_ratio,omitempty"`
}

// ChatCompletion is the non-streaming answer of POST /chat/completions.
type ChatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []ChatChoice `json:"choices"`
	Usage   *Usage       `json:"usage,omitempty"`
}

// ChatChoice is one answer of a completion.
type ChatChoice struct {
	Index        int              `json:"index"`
	FinishReason *string          `json:"finish_reason"`
	Message      AssistantMessage `json:"message"`
}

// AssistantMessage is the model's answer; Images hold data: URLs when images
// were asked for.
type AssistantMessage struct {
	Role    string       `json:"role"`
	Content Content      `json:"content"`
	Images  []ImageOfURL `json:"images,omitempty"`
}

// ImageOfURL is {"image_url": {"url": "..."}} (url is usually a data: URL).
type ImageOfURL struct {
	ImageURL struct {
		URL string `json:"url"`
	} `json:"image_url"`
}

// Text is the content of the first choice.
func (c *ChatCompletion) Text() string {
	if len(c.Choices) == 0 {
		return ""
	}
	return string(c.Choices[0].Message.Content)
}

// ImageURLs are the images of the first choice (data: or https URLs).
func (c *ChatCompletion) ImageURLs() []string {
	if len(c.Choices) == 0 {
		return nil
	}
	var urls []string
	for _, img := range c.Choices[0].Message.Images {
		urls = append(urls, img.ImageURL.URL)
	}
	return urls
}

// ChatChunk is one event of a streaming completion.
type ChatChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []ChatChunkChoice `json:"choices"`
	Usage   *Usage            `json:"usage,omitempty"`
	Error   *APIError         `json:"error,omitempty"`
}

// ChatChunkChoice is the delta of one chunk.
type ChatChunkChoice struct {
	Index        int       `json:"index"`
	Delta        ChatDelta `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
}

// ChatDelta is the text added by one chunk.
type ChatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content Content `json:"content,omitempty"`
}

// Text is the text this chunk adds.
func (c *ChatChunk) Text() string {
	if len(c.Choices) == 0 {
		return ""
	}
	return string(c.Choices[0].Delta.Content)
}

// ImageRequest is a POST /images generation.
type ImageRequest struct {
	Model       string `json:"model"`
	Prompt      string `json:"prompt"`
	AspectRatio string `json:"aspect_ratio,omitempty"`
	Resolution  string `json:"resolution,omitempty"`
	N           int    `json:"n,omitempty"`
}

// ImageResult is the answer of POST /images.
type ImageResult struct {
	Created int64            `json:"created"`
	Data    []GeneratedImage `json:"data"`
	Usage   *Usage           `json:"usage,omitempty"`
}

// GeneratedImage is one image, base64 encoded.
type GeneratedImage struct {
	B64JSON   string `json:"b64_json"`
	MediaType string `json:"media_type,omitempty"`
}

// DataURL is the image as a data: URL (image/png when upstream did not say).
func (g GeneratedImage) DataURL() string {
	media := g.MediaType
	if media == "" {
		media = "image/png"
	}
	return "data:" + media + ";base64," + g.B64JSON
}

// VideoRequest is a POST /videos submission. FirstFrameURL (https or data:
// URL) makes it image-to-video: it is sent in frame_images as first_frame.
type VideoRequest struct {
	Model         string
	Prompt        string
	Duration      *int
	Resolution    string
	AspectRatio   string
	FirstFrameURL string
}

// Video job states, as upstream names them.
const (
	VideoPending    = "pending"
	VideoInProgress = "in_progress"
	VideoCompleted  = "completed"
	VideoFailed     = "failed"
	VideoCancelled  = "cancelled"
	VideoExpired    = "expired"
)

// VideoJob is the state of an upstream video job. PollingURL is absolute
// (resolved against the base URL when upstream sent a relative one).
type VideoJob struct {
	ID           string      `json:"id"`
	GenerationID string      `json:"generation_id,omitempty"`
	PollingURL   string      `json:"polling_url"`
	Status       string      `json:"status"`
	Error        string      `json:"error,omitempty"`
	UnsignedURLs []string    `json:"unsigned_urls,omitempty"`
	Usage        *VideoUsage `json:"usage,omitempty"`
}

// VideoUsage is the cost of a video job.
type VideoUsage struct {
	Cost *float64 `json:"cost,omitempty"`
}
