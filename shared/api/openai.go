package api

// The OpenAI-compatible API under /v1: OpenAI's own shapes, so the
// official SDKs (and the tools built on them) work by changing their base
// URL. Only the members duckgate reads or writes are declared here; the
// chat answer and its chunks pass through from OpenRouter (also OpenAI's
// shapes) with whatever else they carry.

// OpenAIModel is one entry of GET /v1/models.
type OpenAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// OpenAIModelList is the body of GET /v1/models.
type OpenAIModelList struct {
	Object string        `json:"object"` // "list"
	Data   []OpenAIModel `json:"data"`
}

// CompletionMessage is one message of a chat completion request. Content
// is a string or an array of content parts ({"type": "text", "text"},
// {"type": "image_url", "image_url": {"url"}}, input_audio, file); it may
// be null on an assistant message that carries tool_calls.
type CompletionMessage struct {
	Role       string `json:"role"`
	Content    any    `json:"content"`
	Name       string `json:"name,omitempty"`
	ToolCallID string `json:"tool_call_id,omitempty"`
	ToolCalls  []any  `json:"tool_calls,omitempty"`
}

// StreamOptions are the options of a streamed completion.
type StreamOptions struct {
	// IncludeUsage adds a last chunk with empty choices and the usage.
	IncludeUsage bool `json:"include_usage,omitempty"`
}

// CompletionRequest is the body of POST /v1/chat/completions. Members not
// declared here are refused (400 naming the parameter), never dropped.
type CompletionRequest struct {
	Model               string              `json:"model,omitempty"`
	Messages            []CompletionMessage `json:"messages"`
	MaxTokens           *int                `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int                `json:"max_completion_tokens,omitempty"`
	Temperature         *float64            `json:"temperature,omitempty"`
	TopP                *float64            `json:"top_p,omitempty"`
	N                   *int                `json:"n,omitempty"`
	Stop                any                 `json:"stop,omitempty"`
	Stream              bool                `json:"stream,omitempty"`
	StreamOptions       *StreamOptions      `json:"stream_options,omitempty"`
	Tools               []any               `json:"tools,omitempty"`
	ToolChoice          any                 `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool               `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      any                 `json:"response_format,omitempty"`
	Seed                *int                `json:"seed,omitempty"`
	PresencePenalty     *float64            `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64            `json:"frequency_penalty,omitempty"`
	LogitBias           map[string]float64  `json:"logit_bias,omitempty"`
	Logprobs            *bool               `json:"logprobs,omitempty"`
	TopLogprobs         *int                `json:"top_logprobs,omitempty"`
	ReasoningEffort     string              `json:"reasoning_effort,omitempty"`
	Metadata            map[string]string   `json:"metadata,omitempty"`
	User                string              `json:"user,omitempty"`
}

// ToolCall is a call of a function the assistant asks for.
type ToolCall struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"` // "function"
	Function ToolCallFunction `json:"function"`
}

// ToolCallFunction names the function and its JSON arguments.
type ToolCallFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// CompletionAnswer is the assistant's message of a completion.
type CompletionAnswer struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

// CompletionChoice is one choice of a completion.
type CompletionChoice struct {
	Index        int              `json:"index"`
	Message      CompletionAnswer `json:"message"`
	FinishReason *string          `json:"finish_reason"`
}

// CompletionUsage counts a completion's tokens and OpenRouter's cost (USD).
type CompletionUsage struct {
	PromptTokens     int      `json:"prompt_tokens"`
	CompletionTokens int      `json:"completion_tokens"`
	TotalTokens      int      `json:"total_tokens"`
	Cost             *float64 `json:"cost,omitempty"`
}

// Completion is the answer of POST /v1/chat/completions (object
// "chat.completion").
type Completion struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []CompletionChoice `json:"choices"`
	Usage   *CompletionUsage   `json:"usage,omitempty"`
}

// ToolCallDelta is a piece of a tool call in a stream.
type ToolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function *ToolCallFunction `json:"function,omitempty"`
}

// CompletionDelta is what one chunk adds to the assistant's message.
type CompletionDelta struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	ToolCalls []ToolCallDelta `json:"tool_calls,omitempty"`
}

// CompletionChunkChoice is one choice of a chunk.
type CompletionChunkChoice struct {
	Index        int             `json:"index"`
	Delta        CompletionDelta `json:"delta"`
	FinishReason *string         `json:"finish_reason"`
}

// CompletionChunk is one event of a streamed /v1 completion (object
// "chat.completion.chunk"); with stream_options.include_usage the last one
// has empty choices and the usage.
type CompletionChunk struct {
	ID      string                  `json:"id"`
	Object  string                  `json:"object"`
	Created int64                   `json:"created"`
	Model   string                  `json:"model"`
	Choices []CompletionChunkChoice `json:"choices"`
	Usage   *CompletionUsage        `json:"usage,omitempty"`
}

// ImageGenerationRequest is the body of POST /v1/images/generations.
type ImageGenerationRequest struct {
	Prompt string `json:"prompt"`
	Model  string `json:"model,omitempty"`
	// N must be 1 (or absent).
	N *int `json:"n,omitempty"`
	// Size is "auto" or WIDTHxHEIGHT; it picks the aspect ratio.
	Size string `json:"size,omitempty"`
	// ResponseFormat must be b64_json (or absent).
	ResponseFormat string `json:"response_format,omitempty"`
	User           string `json:"user,omitempty"`
}

// GeneratedImage is one image of an images answer, base64 encoded.
type GeneratedImage struct {
	B64JSON       string `json:"b64_json"`
	RevisedPrompt string `json:"revised_prompt,omitempty"`
}

// ImagesResponse is the answer of POST /v1/images/generations.
type ImagesResponse struct {
	Created int64            `json:"created"`
	Data    []GeneratedImage `json:"data"`
}

// OpenAIError is the error object of OpenAI's envelope.
type OpenAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// OpenAIErrorResponse is how /v1 answers failures: {"error": {...}}.
type OpenAIErrorResponse struct {
	Error OpenAIError `json:"error"`
}
