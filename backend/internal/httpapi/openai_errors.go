package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/shared/api"
)

// The OpenAI-compatible routes (/v1) answer failures the way OpenAI does,
// so the official SDKs raise their typed errors with our message:
//
//	{"error": {"message": "...", "type": "invalid_request_error", "param": "messages", "code": null}}
//
// It is a second renderer of the one error table: the status, the message
// and Retry-After are the problem's; only the envelope differs.

type openAIStyleKey struct{}

// OpenAIErrors marks a request whose failures render in OpenAI's envelope.
// It runs first in a /v1 route's chain, so authentication failures are
// rendered that way too.
func OpenAIErrors() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(openAIStyleKey{}, true)
		c.Next()
	}
}

// OpenAIErrorsUnder marks unmatched requests under prefix (a /v1 path that
// does not exist answers OpenAI's 404).
func OpenAIErrorsUnder(prefix string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if strings.HasPrefix(c.Request.URL.Path, prefix) {
			c.Set(openAIStyleKey{}, true)
		}
		c.Next()
	}
}

func openAIStyle(c *gin.Context) bool {
	v, _ := c.Get(openAIStyleKey{})
	b, _ := v.(bool)
	return b
}

// writeFailure renders p in the envelope the request's route speaks.
func writeFailure(c *gin.Context, p Problem) {
	if openAIStyle(c) {
		WriteOpenAIError(c.Writer, c.Request, p)
		return
	}
	WriteProblem(c.Writer, c.Request, p)
}

// OpenAIErrorFor is the OpenAI error object a /v1 client sees for err.
func OpenAIErrorFor(err error) api.OpenAIError { return OpenAIErrorOf(ProblemFor(err)) }

// OpenAIErrorOf is the error object for p.
func OpenAIErrorOf(p Problem) api.OpenAIError {
	typ, code := openAIKind(p.Status)
	e := api.OpenAIError{Message: p.Detail, Type: typ, Code: code}
	if len(p.Fields) > 0 {
		param := p.Fields[0].Field
		e.Param = &param
		parts := make([]string, len(p.Fields))
		for i, f := range p.Fields {
			parts[i] = f.Field + " " + f.Message
		}
		e.Message = p.Detail + ": " + strings.Join(parts, "; ")
	}
	if e.Message == "" {
		e.Message = http.StatusText(p.Status)
	}
	return e
}

// openAIKind is OpenAI's error type, and code where it has one, of a status.
func openAIKind(status int) (typ string, code *string) {
	str := func(s string) *string { return &s }
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_request_error", str("invalid_api_key")
	case status == http.StatusPaymentRequired:
		return "insufficient_quota", str("insufficient_quota")
	case status == http.StatusForbidden:
		return "permission_error", nil
	case status == http.StatusNotFound:
		return "invalid_request_error", str("not_found")
	case status == http.StatusConflict:
		return "conflict_error", nil
	case status == http.StatusRequestEntityTooLarge:
		return "invalid_request_error", str("request_too_large")
	case status == http.StatusTooManyRequests:
		return "requests", str("rate_limit_exceeded")
	case status == http.StatusGatewayTimeout:
		return "server_error", str("timeout")
	case status == http.StatusServiceUnavailable:
		return "server_error", str("service_unavailable")
	case status == http.StatusBadGateway:
		return "server_error", str("upstream_error")
	case status >= http.StatusInternalServerError:
		return "server_error", nil
	}
	return "invalid_request_error", nil
}

// WriteOpenAIError renders p as OpenAI's {"error": {...}} with the
// problem's status and headers.
func WriteOpenAIError(w http.ResponseWriter, _ *http.Request, p Problem) {
	h := w.Header()
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(p.RetryAfter.Seconds()))))
	}
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", "Bearer")
	}
	body, err := json.Marshal(api.OpenAIErrorResponse{Error: OpenAIErrorOf(p)})
	if err != nil {
		body = []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
