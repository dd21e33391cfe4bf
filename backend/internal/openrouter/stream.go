package openrouter

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duckgate/duckgate/shared/sse"
)

// maxEventBytes bounds one SSE event (base64 images make lines of MiBs).
const maxEventBytes = 32 << 20

// sseBufferSize is the read buffer of one stream: a chat event fits it.
// It is small because chat events are a few hundred bytes, the connection
// below buffers its reads already, and a server holds hundreds of streams
// open at once; a longer line (an image) goes straight into its event.
const sseBufferSize = 1 << 10

// Stream is a streaming chat completion. Call Next until it returns an
// error (io.EOF after upstream's [DONE]); always Close it.
type Stream struct {
	client *Client
	op     string
	parent context.Context
	ctx    context.Context
	body   *idleBody
	events *sse.Reader
	usage  *Usage
	err    error
}

// StreamEvent is one event: Data is its `data:` payload exactly as received
// (to pass through unchanged), Chunk the same payload parsed.
type StreamEvent struct {
	Data  []byte
	Chunk ChatChunk
}

// ChatCompletionStream starts a streaming chat completion. Failures before
// the first event (status, timeout, refused request) are returned here;
// failures after it come from Next.
func (c *Client) ChatCompletionStream(ctx context.Context, req ChatRequest) (*Stream, error) {
	wire, err := c.chatWire(req, true)
	if err != nil {
		return nil, err
	}
	return c.chatStream(ctx, wire)
}

// chatStream opens a streaming chat completion with this body.
func (c *Client) chatStream(ctx context.Context, wire any) (*Stream, error) {
	const op = "chat completion stream"
	resp, reqCtx, _, err := c.openStream(ctx, op, http.MethodPost, c.chatURL, wire)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return nil, c.jsonInsteadOfStream(op, ctx, reqCtx, resp.Body)
	}
	return &Stream{client: c, op: op, parent: ctx, ctx: reqCtx, body: resp.Body.(*idleBody),
		events: sse.NewReader(resp.Body, sse.Options{BufferSize: sseBufferSize, MaxEventSize: maxEventBytes})}, nil
}

// jsonInsteadOfStream explains a JSON answer to a streaming request: an
// error inside a 200 (or an unreadable body) is reported as such.
func (c *Client) jsonInsteadOfStream(op string, parent, reqCtx context.Context, body io.ReadCloser) error {
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, maxBodyBytes))
	if err != nil {
		return c.transportFailure(op, parent, reqCtx, err)
	}
	if err := c.decode(op, raw, &ChatCompletion{}); err != nil {
		return err
	}
	return c.malformed(op, errors.New("a JSON answer instead of an event stream"))
}

// Next returns the next event. It returns io.EOF after [DONE], and an *Error
// when upstream reports an error event, ends the stream early, sends an
// unreadable event or stays silent longer than the idle timeout.
func (s *Stream) Next() (StreamEvent, error) {
	if s.err != nil {
		return StreamEvent{}, s.err
	}
	event, err := s.next()
	if err != nil {
		s.err = err
		s.Close()
	}
	return event, err
}

func (s *Stream) next() (StreamEvent, error) {
	data, err := s.events.Next()
	if errors.Is(err, io.EOF) {
		return StreamEvent{}, &Error{Op: s.op, Kind: KindUpstream,
			Message: "the AI provider ended the stream early", Cause: errors.New("stream ended without [DONE]")}
	}
	if err != nil {
		return StreamEvent{}, s.client.transportFailure(s.op, s.parent, s.ctx, err)
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		// Read what little may follow so the connection can be reused.
		_, _ = io.CopyN(io.Discard, s.body, 4<<10)
		return StreamEvent{}, io.EOF
	}
	var chunk ChatChunk
	if err := json.Unmarshal(data, &chunk); err != nil {
		return StreamEvent{}, s.client.malformed(s.op, fmt.Errorf("stream event: %w", err))
	}
	if chunk.Error != nil {
		return StreamEvent{}, s.client.upstreamFailure(s.op, chunk.Error.Code, *chunk.Error, nil)
	}
	if chunk.Usage != nil {
		s.usage = chunk.Usage
	}
	return StreamEvent{Data: data, Chunk: chunk}, nil
}

// Usage is the usage of the last chunk that carried one (upstream sends it
// in the final chunk), nil before.
func (s *Stream) Usage() *Usage { return s.usage }

// Close ends the stream and the upstream request. It is safe to call twice.
func (s *Stream) Close() error {
	return s.body.Close() // also cancels the request
}

// VideoContent is the body of a finished video. Close it.
type VideoContent struct {
	Body          io.ReadCloser
	ContentType   string
	ContentLength int64 // -1 when unknown
}

// VideoContent streams the index-th output of a completed job (GET
// /videos/{id}/content?index=N) without buffering it. The body is bounded
// by the idle timeout, not the call timeout, so large files can take long.
func (c *Client) VideoContent(ctx context.Context, jobID string, index int) (*VideoContent, error) {
	target := c.endpoint(url.Values{"index": {strconv.Itoa(index)}}, "videos", jobID, "content")
	resp, _, _, err := c.openStream(ctx, "video content", http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	contentType := resp.Header.Get("Content-Type")
	if contentType == "" {
		contentType = "video/mp4"
	}
	return &VideoContent{Body: resp.Body, ContentType: contentType, ContentLength: resp.ContentLength}, nil
}

// openStream sends a request whose answer is read incrementally. The call
// timeout bounds the wait for the headers; afterwards the body is an
// *idleBody that cancels the request when no byte arrives for the idle
// timeout, and whose Close ends the request.
func (c *Client) openStream(ctx context.Context, op, method, target string, in any) (*http.Response, context.Context, context.CancelCauseFunc, error) {
	if c.configErr != nil {
		return nil, nil, nil, c.misconfigured(op)
	}
	reqCtx, cancel := context.WithCancelCause(ctx)
	headerTimer := time.AfterFunc(c.timeout, func() { cancel(errCallTimeout) })
	req, err := c.newRequest(reqCtx, method, target, in)
	if err != nil {
		headerTimer.Stop()
		cancel(err)
		return nil, nil, nil, fmt.Errorf("openrouter: %s: %w", op, err)
	}
	req.Header.Set("Accept", "text/event-stream, application/json, */*")
	resp, err := c.send(op, ctx, req)
	headerTimer.Stop()
	if err != nil {
		cancel(err)
		return nil, nil, nil, err
	}
	body := &idleBody{body: resp.Body, idle: c.idle, cancel: cancel}
	body.timer = time.AfterFunc(c.idle, func() { cancel(errIdleTimeout) })
	resp.Body = body
	return resp, reqCtx, cancel, nil
}

// idleBody cancels its request when no byte arrives for idle.
type idleBody struct {
	body   io.ReadCloser
	idle   time.Duration
	timer  *time.Timer
	cancel context.CancelCauseFunc
	once   sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	return n, err
}

func (b *idleBody) Close() error {
	var err error
	b.once.Do(func() {
		b.timer.Stop()
		err = b.body.Close()
		b.cancel(errClosed)
	})
	return err
}

// newUserMAC is the keyed HMAC-SHA256 behind Client.HashUser.
func newUserMAC(salt string) hash.Hash {
	return hmac.New(sha256.New, []byte("duckgate-openrouter-user:"+salt))
}

// userHash is the first 32 hex characters of mac (freshly reset) over userID.
func userHash(mac hash.Hash, userID string) string {
	mac.Write([]byte(userID))
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(sum[:0])[:16])
}
