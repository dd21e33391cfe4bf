package openrouter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
)

// PassthroughRequest is a chat completion whose members an
// OpenAI-compatible caller chose (messages with content parts, tools,
// tool_choice, response_format, …): the gateway checks them and they are
// sent as received. The client sets `user` (the hashed UserID, never the
// caller's own) and `stream`.
type PassthroughRequest struct {
	Fields map[string]json.RawMessage
	UserID string
}

func (c *Client) passthroughWire(req PassthroughRequest, stream bool) (map[string]json.RawMessage, error) {
	if req.UserID == "" {
		return nil, errors.New("openrouter: chat request without a user id")
	}
	wire := make(map[string]json.RawMessage, len(req.Fields)+2)
	for k, v := range req.Fields {
		wire[k] = v
	}
	user, _ := json.Marshal(c.HashUser(req.UserID))
	wire["user"] = user
	delete(wire, "stream")
	if stream {
		wire["stream"] = json.RawMessage("true")
	}
	return wire, nil
}

// RawCompletion is a non-streaming answer as upstream sent it (Body, to
// pass on) and parsed (Completion: id, model, usage).
type RawCompletion struct {
	Body       []byte
	Completion ChatCompletion
}

// ChatCompletionPassthrough sends a non-streaming passthrough completion.
func (c *Client) ChatCompletionPassthrough(ctx context.Context, req PassthroughRequest) (*RawCompletion, error) {
	const op = "chat completion"
	wire, err := c.passthroughWire(req, false)
	if err != nil {
		return nil, err
	}
	body, err := c.callRaw(ctx, op, http.MethodPost, c.chatURL, wire)
	if err != nil {
		return nil, err
	}
	var out chatCompletionAnswer
	if err := c.decode(op, body, &out); err != nil {
		return nil, err
	}
	if len(out.Choices) == 0 {
		return nil, c.malformed(op, errors.New("answer without choices"))
	}
	return &RawCompletion{Body: body, Completion: out.ChatCompletion}, nil
}

// ChatCompletionStreamPassthrough starts a streaming passthrough completion;
// its events' Data are upstream's chunks as received.
func (c *Client) ChatCompletionStreamPassthrough(ctx context.Context, req PassthroughRequest) (*Stream, error) {
	wire, err := c.passthroughWire(req, true)
	if err != nil {
		return nil, err
	}
	return c.chatStream(ctx, wire)
}
