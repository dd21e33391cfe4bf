package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duckgate/duckgate/shared/api"
)

// IsStatus reports whether err is, or wraps, an answer of the backend with
// the given HTTP status: a *api.Problem, or a *StreamError whose code is that
// status. For example IsStatus(err, http.StatusUnauthorized) tells a caller
// to refresh its access token.
func IsStatus(err error, status int) bool {
	if p, ok := errors.AsType[*api.Problem](err); ok {
		return p.Status == status
	}
	if se, ok := errors.AsType[*StreamError](err); ok {
		return se.Code == status
	}
	return false
}

// StreamError is what ChatStream.Next returns when the server ends a stream
// that had already begun (status 200 sent) with an error event
// data: {"error": {"code", "message"}}. Code is an HTTP-like status (502 when
// the provider failed, 504 when it timed out).
type StreamError struct {
	Code    int
	Message string
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("client: chat stream failed: %d %s", e.Code, e.Message)
}

// errorBodyLimit bounds how much of an error body is read to describe it.
const errorBodyLimit = 64 << 10

// readErrorBody reads the start of an error answer, then drains and closes it.
func readErrorBody(resp *http.Response) []byte {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	drainAndClose(resp.Body)
	return body
}

// problemFromResponse turns a non-2xx answer into the *api.Problem the caller
// gets: the problem detail the backend sent, or, when something else answered
// (a proxy's HTML page, gin's plain-text 404), one made up from the status.
// The HTTP status wins over the body's, as RFC 9457 makes the body's advisory.
func problemFromResponse(resp *http.Response, body []byte) *api.Problem {
	p := decodeProblem(resp.Header.Get("Content-Type"), body)
	if p == nil {
		p = &api.Problem{Type: "about:blank", Detail: describeForeignBody(resp, body)}
	}
	p.Status = resp.StatusCode
	if strings.TrimSpace(p.Title) == "" {
		p.Title = statusTitle(resp.StatusCode)
	}
	if p.RequestID == "" {
		p.RequestID = resp.Header.Get("X-Request-ID")
	}
	p.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return p
}

// decodeProblem returns the problem detail in body, or nil when body is not
// one (not JSON, or JSON without type and title).
func decodeProblem(contentType string, body []byte) *api.Problem {
	if !isJSON(mediaType(contentType)) {
		return nil
	}
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || (p.Type == "" && p.Title == "") {
		return nil
	}
	return &p
}

func statusTitle(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "HTTP " + strconv.Itoa(status)
}

var htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// describeForeignBody writes a readable detail for an error answer that is
// not a problem detail, without pasting markup into it.
func describeForeignBody(resp *http.Response, body []byte) string {
	mt := mediaType(resp.Header.Get("Content-Type"))
	switch {
	case len(strings.TrimSpace(string(body))) == 0:
		return fmt.Sprintf("the server answered %d without any detail", resp.StatusCode)
	case mt == "text/html":
		if m := htmlTitle.FindSubmatch(body); m != nil {
			return fmt.Sprintf("the server answered with an HTML page (%q) instead of a problem detail", clip(string(m[1])))
		}
		return "the server answered with an HTML page instead of a problem detail"
	case mt == "text/plain" || mt == "":
		return clip(string(body))
	default:
		return fmt.Sprintf("the server answered %d with %s instead of a problem detail", resp.StatusCode, clip(mt))
	}
}

var (
	// htmlTag is a complete tag, comment or declaration.
	htmlTag = regexp.MustCompile(`<[^<>]*>`)
	// markupStart is what could still open one.
	markupStart = regexp.MustCompile(`<([A-Za-z/!?])`)
)

// withoutMarkup drops the tags from s and defuses what could still open
// one, so an excerpt of a foreign body never carries markup.
func withoutMarkup(s string) string {
	s = htmlTag.ReplaceAllString(s, " ")
	for markupStart.MatchString(s) {
		s = markupStart.ReplaceAllString(s, "$1")
	}
	return s
}

// clip makes s a one-line excerpt: valid UTF-8, no markup, whitespace
// collapsed, at most 200 characters.
func clip(s string) string {
	const max = 200
	s = strings.Join(strings.Fields(withoutMarkup(strings.ToValidUTF8(s, "?"))), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date
// (RFC 9110, 10.2.3) and returns whole seconds to wait; 0 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) int {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(secs, 0)
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(int(at.Sub(now).Round(time.Second)/time.Second), 0)
	}
	return 0
}
