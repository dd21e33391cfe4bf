package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/duckgate/duckgate/shared/api"
)

// ConversationParams selects a page of GET /conversations; zero values are
// left out. Query searches titles and message text.
type ConversationParams struct {
	Limit, Offset int
	Query         string
}

// Conversations lists the caller's conversations, pinned first, then the
// most recently updated (GET /conversations).
func (c *Client) Conversations(ctx context.Context, p ConversationParams) (*api.ConversationList, error) {
	q := pageValues(p.Limit, p.Offset)
	setIfNotEmpty(q, "q", p.Query)
	var out api.ConversationList
	if err := c.doJSON(ctx, http.MethodGet, "/conversations", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateConversation starts a conversation (POST /conversations).
func (c *Client) CreateConversation(ctx context.Context, in api.NewConversationRequest) (*api.Conversation, error) {
	var out api.Conversation
	if err := c.doJSON(ctx, http.MethodPost, "/conversations", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Conversation returns one of the caller's conversations with its messages
// (GET /conversations/{id}); another user's is a 404 problem.
func (c *Client) Conversation(ctx context.Context, id string) (*api.ConversationDetail, error) {
	var out api.ConversationDetail
	if err := c.doJSON(ctx, http.MethodGet, "/conversations/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateConversation renames, pins, or changes the model or system prompt
// of a conversation (PATCH /conversations/{id}).
func (c *Client) UpdateConversation(ctx context.Context, id string, in api.ConversationPatch) (*api.Conversation, error) {
	var out api.Conversation
	if err := c.doJSON(ctx, http.MethodPatch, "/conversations/"+url.PathEscape(id), nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteConversation deletes a conversation (DELETE /conversations/{id}).
func (c *Client) DeleteConversation(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, "/conversations/"+url.PathEscape(id), nil, nil, nil)
}

// SendMessage adds the caller's message to a conversation and streams the
// answer (POST /conversations/{id}/messages). The exchange is kept when
// the answer ends, also if the stream is closed early (marked cut short).
func (c *Client) SendMessage(ctx context.Context, id string, in api.SendMessageRequest) (*ChatStream, error) {
	return c.openStream(ctx, http.MethodPost, "/conversations/"+url.PathEscape(id)+"/messages", in)
}

// EditMessage replaces a user message and streams a new answer to it; the
// messages after it are dropped (PUT /conversations/{id}/messages/{messageID}).
func (c *Client) EditMessage(ctx context.Context, id, messageID string, in api.EditMessageRequest) (*ChatStream, error) {
	return c.openStream(ctx, http.MethodPut, "/conversations/"+url.PathEscape(id)+"/messages/"+url.PathEscape(messageID), in)
}

// Regenerate replaces the last answer of a conversation with a new one,
// streamed (POST /conversations/{id}/regenerate).
func (c *Client) Regenerate(ctx context.Context, id string, in api.RegenerateRequest) (*ChatStream, error) {
	return c.openStream(ctx, http.MethodPost, "/conversations/"+url.PathEscape(id)+"/regenerate", in)
}

// ExportConversation returns a conversation as Markdown ("markdown") or
// JSON ("json") (GET /conversations/{id}/export?format=). Close the body.
func (c *Client) ExportConversation(ctx context.Context, id, format string) (io.ReadCloser, error) {
	return c.download(ctx, "/conversations/"+url.PathEscape(id)+"/export", url.Values{"format": {format}})
}

// Images lists the caller's kept images, newest first (GET /generate/image).
func (c *Client) Images(ctx context.Context, limit, offset int) (*api.ImageList, error) {
	var out api.ImageList
	if err := c.doJSON(ctx, http.MethodGet, "/generate/image", pageValues(limit, offset), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ImageContent opens a kept image's bytes (GET /generate/image/{id}/content).
// Close the body.
func (c *Client) ImageContent(ctx context.Context, id string) (io.ReadCloser, error) {
	return c.download(ctx, "/generate/image/"+url.PathEscape(id)+"/content", nil)
}

// DeleteImage deletes a kept image (DELETE /generate/image/{id}).
func (c *Client) DeleteImage(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, "/generate/image/"+url.PathEscape(id), nil, nil, nil)
}

// download sends a GET whose answer is a body the caller reads and closes.
func (c *Client) download(ctx context.Context, path string, query url.Values) (io.ReadCloser, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path, query: query, accept: "*/*"})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
