package openrouter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind says how an upstream failure reaches our own clients.
type Kind int

const (
	// KindUpstream: the provider failed or cannot be used (5xx, 401 and 402
	// from upstream, unreadable answers, unreachable host). Answer 502.
	KindUpstream Kind = iota
	// KindRateLimited: upstream said 429. Answer 429 with Retry-After.
	KindRateLimited
	// KindTimeout: the call or the stream went silent too long (also
	// upstream 408 and 524). Answer 504.
	KindTimeout
	// KindBadRequest: upstream refused what the user asked for (400, 403
	// moderation or guardrail, 404 unknown model, 413, 422). Answer 422:
	// the request was well-formed for us but its content was not acceptable,
	// and the user can change it; the message carries upstream's reason.
	KindBadRequest
	// KindCanceled: our caller's context was canceled (the client went
	// away). There is nobody to answer; do not count it as a provider error.
	KindCanceled
)

func (k Kind) String() string {
	switch k {
	case KindRateLimited:
		return "rate_limited"
	case KindTimeout:
		return "timeout"
	case KindBadRequest:
		return "bad_request"
	case KindCanceled:
		return "canceled"
	}
	return "upstream"
}

// StatusClientClosed is the status usage records and logs keep for
// KindCanceled (nginx's 499); it is never sent.
const StatusClientClosed = 499

// DefaultRetryAfter is used when upstream answers 429 without saying when
// to retry.
const DefaultRetryAfter = 10 * time.Second

// Error is every failure of a call.
type Error struct {
	Kind Kind
	// Op names the call ("chat completion", "submit video"...).
	Op string
	// StatusCode is upstream's HTTP status (or the code of an error inside a
	// 200 answer or a stream event); 0 when no answer arrived.
	StatusCode int
	// Message is safe to show to users: no key, no upstream URL.
	Message string
	// RetryAfter is set for KindRateLimited.
	RetryAfter time.Duration
	// Cause is the private reason, for logs.
	Cause error
}

func (e *Error) Error() string {
	msg := "openrouter: " + e.Op + ": " + e.Message
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Cause }

// APIError is OpenRouter's error object {"code", "message", "metadata"},
// as found in error answers, 200 answers and stream events.
type APIError struct {
	Code     int            `json:"code"`
	Message  string         `json:"message"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

var (
	errCallTimeout = errors.New("the call took longer than the configured timeout")
	errIdleTimeout = errors.New("the stream stayed silent longer than the idle timeout")
	errClosed      = errors.New("stream closed by the caller")
)

// upstreamFailure is the one mapping from an upstream status (HTTP status,
// or the code of an error in a 200 body or stream event) to our Kind and
// public message. header may be nil.
func (c *Client) upstreamFailure(op string, status int, body APIError, header http.Header) *Error {
	e := &Error{Op: op, StatusCode: status, Kind: KindUpstream,
		Cause: fmt.Errorf("upstream status %d: %s", status, c.redact(body.Message))}
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		e.Message = "the AI provider is rate limiting requests; retry later"
		e.RetryAfter = retryAfter(header, time.Now())
	case status == http.StatusRequestTimeout || status == 524:
		e.Kind = KindTimeout
		e.Message = "the AI provider timed out"
	case status == http.StatusBadRequest || status == http.StatusForbidden || status == http.StatusNotFound ||
		status == http.StatusRequestEntityTooLarge || status == http.StatusUnprocessableEntity:
		e.Kind = KindBadRequest
		e.Message = "the AI provider rejected the request"
		if reason := c.publicReason(body.Message); reason != "" {
			e.Message += ": " + reason
		}
	case status == http.StatusUnauthorized:
		e.Message = "the AI provider rejected the server's API key"
	case status == http.StatusPaymentRequired:
		e.Message = "the AI provider account has insufficient credits"
	default:
		e.Message = "the AI provider failed"
		if status != 0 {
			e.Message += " (status " + strconv.Itoa(status) + ")"
		}
	}
	return e
}

// statusFailure reads the error body of a non-2xx answer.
func (c *Client) statusFailure(op string, resp *http.Response) *Error {
	var envelope struct {
		Error APIError `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(raw, &envelope); err != nil || envelope.Error.Message == "" {
		envelope.Error.Message = strings.TrimSpace(string(raw))
	}
	return c.upstreamFailure(op, resp.StatusCode, envelope.Error, resp.Header)
}

// transportFailure explains a call that got no (complete) answer. parent is
// the caller's context, callCtx the one the request ran under.
func (c *Client) transportFailure(op string, parent, callCtx context.Context, err error) *Error {
	e := &Error{Op: op, Kind: KindUpstream, Message: "the AI provider could not be reached", Cause: err}
	cause := context.Cause(callCtx)
	var netErr net.Error
	switch {
	case errors.Is(cause, errCallTimeout) || errors.Is(cause, errIdleTimeout):
		e.Kind, e.Message, e.Cause = KindTimeout, "the AI provider timed out", fmt.Errorf("%w: %w", cause, err)
	case errors.Is(parent.Err(), context.Canceled):
		e.Kind, e.Message = KindCanceled, "the request was canceled"
		e.Cause = fmt.Errorf("%w: %w", context.Canceled, err)
	case errors.Is(parent.Err(), context.DeadlineExceeded):
		e.Kind, e.Message = KindTimeout, "the AI provider timed out"
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Kind, e.Message = KindTimeout, "the AI provider timed out"
	case errors.Is(cause, errClosed):
		e.Kind, e.Message = KindCanceled, "the stream was closed"
	}
	return e
}

func (c *Client) malformed(op string, cause error) *Error {
	return &Error{Op: op, Kind: KindUpstream, Message: "the AI provider sent an unreadable answer", Cause: cause}
}

func (c *Client) misconfigured(op string) *Error {
	return &Error{Op: op, Kind: KindUpstream, Message: "the AI provider is not configured correctly", Cause: c.configErr}
}

var urlPattern = regexp.MustCompile(`(?i)\b(https?://|www\.)\S+`)

// publicReason makes upstream's message safe to show: no key, no URL, short.
func (c *Client) publicReason(msg string) string {
	msg = urlPattern.ReplaceAllString(c.redact(msg), "[link removed]")
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// redact removes the API key from text that came from elsewhere.
func (c *Client) redact(s string) string {
	if c.apiKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, "[redacted]")
}

// retryAfter reads Retry-After (seconds or an HTTP date), then OpenRouter's
// X-RateLimit-Reset (epoch milliseconds), else DefaultRetryAfter.
func retryAfter(header http.Header, now time.Time) time.Duration {
	if header == nil {
		return DefaultRetryAfter
	}
	if v := strings.TrimSpace(header.Get("Retry-After")); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second
		}
		if at, err := http.ParseTime(v); err == nil {
			return atLeastOneSecond(at.Sub(now))
		}
	}
	if v := header.Get("X-RateLimit-Reset"); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			return atLeastOneSecond(time.UnixMilli(ms).Sub(now))
		}
	}
	return DefaultRetryAfter
}

func atLeastOneSecond(d time.Duration) time.Duration {
	d = d.Round(time.Second)
	if d < time.Second {
		return time.Second
	}
	return d
}
