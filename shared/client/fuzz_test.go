package client

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// markup is the start of a tag, a comment or a declaration.
var markup = regexp.MustCompile(`<[A-Za-z/!?]`)

// FuzzProblemFromResponse: whatever an error answer holds, the caller gets
// a problem whose Status is the HTTP status, whose Title says something,
// whose RetryAfter is not negative, and, when the body was not a problem
// detail (a proxy's HTML page, plain text, anything), whose Detail is one
// line of valid UTF-8 with no markup pasted into it.
func FuzzProblemFromResponse(f *testing.F) {
	f.Add(404, "application/problem+json", []byte(`{"type":"about:blank","title":"Not Found","status":404,"detail":"no such user"}`), "")
	f.Add(429, "application/problem+json", []byte(`{"type":"x","title":"","status":200}`), "120")
	f.Add(502, "text/html; charset=utf-8", []byte(`<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>`), "")
	f.Add(503, "text/html", []byte(`<title><script>alert(1)</script></title>`), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(500, "text/plain", []byte("<b>boom</b>\n\nat line 3"), "")
	f.Add(400, "", []byte{0xff, 0xfe, '<', 'p', '>'}, "-5")
	f.Add(418, "application/json", []byte(`{"title":"   "}`), "99999999999999999999")
	f.Add(999, "image/png", []byte("\x89PNG"), "")
	f.Add(500, "<b>x</b>\r0", []byte("{"), "") // once pasted into Detail as it was
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte, retryAfter string) {
		status = 100 + abs(status)%900
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		resp.Header.Set("Content-Type", contentType)
		resp.Header.Set("Retry-After", retryAfter)
		p := problemFromResponse(resp, body)
		if p.Status != status {
			t.Fatalf("Status %d, want the HTTP status %d", p.Status, status)
		}
		if strings.TrimSpace(p.Title) == "" {
			t.Fatalf("empty Title for %d %q %q", status, contentType, body)
		}
		if p.RetryAfter < 0 {
			t.Fatalf("RetryAfter %d from %q", p.RetryAfter, retryAfter)
		}
		if decodeProblem(contentType, body) != nil {
			return // the server's own problem detail: its Detail is the server's
		}
		if markup.MatchString(p.Detail) {
			t.Fatalf("markup pasted into Detail %q (body %q, %s)", p.Detail, body, contentType)
		}
		if !utf8.ValidString(p.Detail) || strings.ContainsAny(p.Detail, "\r\n") {
			t.Fatalf("Detail %q is not one line of UTF-8", p.Detail)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		if n == -n { // the most negative int
			return 0
		}
		return -n
	}
	return n
}
