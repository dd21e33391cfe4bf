package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/sse"
)

// Sizes of the event stream reader. Events are long when a chunk carries a
// base64 image, so the bound is generous; it only stops a broken server
// from exhausting memory.
const (
	streamBufferSize   = 64 << 10
	maxStreamEventSize = 64 << 20
)

// ChatStream reads the answer of a streaming chat one chunk at a time, as the
// server sends it, without buffering the whole stream. Call Next until it
// returns io.EOF, then (or on any early exit) Close. A ChatStream is not safe
// for concurrent use; to abort a blocked Next, cancel the context given to
// Client.ChatStream.
type ChatStream struct {
	body   io.ReadCloser
	events *sse.Reader
	done   bool  // [DONE] was read: Next answers io.EOF
	err    error // a read failure, returned again by every later Next
	closed bool
}

// ChatStream sends a conversation (POST /ai/chat with "stream": true, whatever
// in.Stream says) and returns the stream of the answer once the server has
// accepted it. Failures before the stream began (401, 422, 503 …) are
// *api.Problem errors, as for every other call.
func (c *Client) ChatStream(ctx context.Context, in api.ChatRequest) (*ChatStream, error) {
	in.Stream = true
	return c.openStream(ctx, http.MethodPost, "/ai/chat", in)
}

// openStream sends a request whose answer is a chat event stream.
func (c *Client) openStream(ctx context.Context, method, path string, in any) (*ChatStream, error) {
	r, err := jsonRequest(method, path, nil, in)
	if err != nil {
		return nil, err
	}
	r.accept = "text/event-stream, " + api.ProblemContentType
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	if ct := mediaType(resp.Header.Get("Content-Type")); ct != "text/event-stream" {
		drainAndClose(resp.Body)
		return nil, fmt.Errorf("client: %s %s: expected an event stream, got content type %q", r.method, r.path, ct)
	}
	return &ChatStream{body: resp.Body,
		events: sse.NewReader(resp.Body, sse.Options{BufferSize: streamBufferSize, MaxEventSize: maxStreamEventSize})}, nil
}

// Next returns the next chunk of the answer. It returns io.EOF after the
// server's final "data: [DONE]"; a *StreamError when the server reports that
// the provider failed mid-stream (later calls go on reading, normally to
// io.EOF); and an error wrapping io.ErrUnexpectedEOF when the stream was cut
// before [DONE].
func (s *ChatStream) Next() (*api.ChatChunk, error) {
	for {
		if s.done {
			return nil, io.EOF
		}
		if s.err != nil {
			return nil, s.err
		}
		data, err := s.nextEventData()
		if err != nil {
			s.err = err
			return nil, err
		}
		switch {
		case string(bytes.TrimSpace(data)) == "[DONE]":
			s.done = true
		case len(bytes.TrimSpace(data)) == 0:
			// An event without data (a keep-alive): nothing to return.
		default:
			return decodeChunk(data)
		}
	}
}

// Close releases the connection. After [DONE] the rest of the answer is
// drained first, so the connection can serve the next request.
func (s *ChatStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.done {
		drainAndClose(s.body)
		return nil
	}
	return s.body.Close()
}

// nextEventData returns the data of the next event that carries data
// (shared/sse: comments and other fields skipped, data lines joined with
// "\n").
func (s *ChatStream) nextEventData() ([]byte, error) {
	data, err := s.events.Next()
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("client: POST /ai/chat: stream ended before [DONE]: %w", io.ErrUnexpectedEOF)
	case err != nil:
		return nil, fmt.Errorf("client: POST /ai/chat: read stream: %w", err)
	}
	return data, nil
}

// decodeChunk decodes the data of one event: a chunk, or the error event
// that ends a failed stream.
func decodeChunk(data []byte) (*api.ChatChunk, error) {
	var chunk api.ChatChunk
	if err := json.Unmarshal(data, &chunk); err != nil {
		if se := decodeLooseStreamError(data); se != nil {
			return nil, se
		}
		return nil, fmt.Errorf("client: POST /ai/chat: decode stream event: %w", err)
	}
	if chunk.Error != nil {
		return nil, &StreamError{Code: chunk.Error.Code, Message: chunk.Error.Message}
	}
	return &chunk, nil
}

// decodeLooseStreamError reads an error event whose code is not a number
// (providers sometimes send "code": "502" or a word), so that such an event
// still reaches the caller as a *StreamError; nil when data is no error event.
func decodeLooseStreamError(data []byte) *StreamError {
	var event struct {
		Error *struct {
			Code    json.RawMessage `json:"code"`
			Message string          `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &event) != nil || event.Error == nil {
		return nil
	}
	code := http.StatusBadGateway
	var text string
	if json.Unmarshal(event.Error.Code, &text) == nil {
		if n, err := strconv.Atoi(text); err == nil {
			code = n
		}
	}
	return &StreamError{Code: code, Message: event.Error.Message}
}
