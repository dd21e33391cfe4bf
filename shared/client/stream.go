package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/duckgate/duckgate/shared/api"
)

// maxEventLineBytes bounds one line of the event stream. Lines are long when
// a chunk carries a base64 image, so the bound is generous; it only stops a
// broken server from exhausting memory.
const maxEventLineBytes = 64 << 20

// ChatStream reads the answer of a streaming chat one chunk at a time, as the
// server sends it, without buffering the whole stream. Call Next until it
// returns io.EOF, then (or on any early exit) Close. A ChatStream is not safe
// for concurrent use; to abort a blocked Next, cancel the context given to
// Client.ChatStream.
type ChatStream struct {
	body   io.ReadCloser
	lines  *bufio.Reader
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
	r, err := jsonRequest(http.MethodPost, "/ai/chat", nil, in)
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
	return &ChatStream{body: resp.Body, lines: bufio.NewReaderSize(resp.Body, 64<<10)}, nil
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

// nextEventData reads lines up to the end of the next event that carries
// data (a blank line ends an event) and returns its data lines joined by
// "\n", as the server-sent events standard says. Comments (lines starting
// with ":") and the fields event, id and retry are skipped.
func (s *ChatStream) nextEventData() ([]byte, error) {
	var data []byte
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("stream ended before [DONE]: %w", io.ErrUnexpectedEOF)
			}
			return nil, fmt.Errorf("client: POST /ai/chat: %w", err)
		}
		if len(line) == 0 {
			if hasData {
				return data, nil
			}
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(field) == 0 || string(field) != "data" { // a comment or a field we do not use
			continue
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if hasData {
			data = append(data, '\n')
		}
		data = append(data, value...)
		hasData = true
	}
}

// readLine returns the next line without its line ending, however long
// (up to maxEventLineBytes). A last line without a line ending is returned
// with io.EOF.
func (s *ChatStream) readLine() ([]byte, error) {
	var line []byte
	for {
		fragment, err := s.lines.ReadSlice('\n')
		if len(line)+len(fragment) > maxEventLineBytes {
			return nil, fmt.Errorf("event stream line longer than %d bytes", maxEventLineBytes)
		}
		line = append(line, fragment...) // copy: ReadSlice's bytes are reused
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			if errors.Is(err, io.EOF) {
				return line, io.EOF
			}
			return nil, fmt.Errorf("read stream: %w", err)
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		return bytes.TrimSuffix(line, []byte("\r")), nil
	}
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
