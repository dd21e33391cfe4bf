package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// Every failure a person can see is a sentence written for them.
func TestExplainWritesSentencesForPeople(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want shown
	}{
		{"lock-out with Retry-After", &api.Problem{Status: 429, Detail: "too many wrong passwords; try again later", RetryAfter: 900},
			shown{429, "Too many attempts", "Too many wrong passwords. Wait 15 minutes and try again."}},
		{"rate limit in seconds", &api.Problem{Status: 429, Detail: "rate limited by the AI provider", RetryAfter: 1},
			shown{429, "Too many attempts", "Rate limited by the AI provider. Wait 1 second and try again."}},
		{"rate limit rounded up to minutes", &api.Problem{Status: 429, RetryAfter: 61},
			shown{429, "Too many attempts", "Too many requests. Wait 2 minutes and try again."}},
		{"rate limit in hours", &api.Problem{Status: 429, Detail: "too many wrong passwords; try again later", RetryAfter: 7200},
			shown{429, "Too many attempts", "Too many wrong passwords. Wait 2 hours and try again."}},
		{"rate limit without a time", &api.Problem{Status: 429},
			shown{429, "Too many attempts", "Too many requests. Wait a moment and try again."}},
		{"lower-case detail", &api.Problem{Status: 409, Detail: "an account with this email already exists"},
			shown{409, "Conflict", "An account with this email already exists."}},
		{"clauses", &api.Problem{Status: 409, Detail: "you cannot delete your own account here; ask another admin"},
			shown{409, "Conflict", "You cannot delete your own account here. Ask another admin."}},
		{"a sentence already", &api.Problem{Status: 404, Detail: "No such user."},
			shown{404, "Not found", "No such user."}},
		{"session over", &api.Problem{Status: 401, Detail: "the session has ended; sign in again"},
			shown{401, "Signed out", "Your session has ended. Sign in again."}},
		{"not allowed", &api.Problem{Status: 403, Detail: "this needs the admin role"},
			shown{403, "Not allowed", "This page is only for administrators, or you are not allowed to do this."}},
		{"internal", &api.Problem{Status: 500, Detail: "something went wrong on our side; the request id identifies it in the logs"},
			shown{500, "Something went wrong", "Something went wrong on our side. The request id identifies it in the logs."}},
		{"title only", &api.Problem{Status: 400, Title: "Malformed JSON"},
			shown{400, "Bad Request", "Malformed JSON."}},
		{"nothing at all", &api.Problem{Status: 502, Title: "Bad Gateway"},
			shown{502, "Service unavailable", "Something went wrong on our side. Try again in a moment."}},
		{"status out of range", &api.Problem{Status: 200, Detail: "odd"},
			shown{502, "Service unavailable", "Odd."}},
		{"a message too long", &api.Problem{Status: 422, Detail: "the request has invalid fields",
			Errors: []api.FieldError{{Field: "content", Message: "is 300 KB; a message may hold at most 256 KB"}}},
			shown{422, "Check what you entered", "That message is too long: shorten it to 256 KB."}},
		{"fields", &api.Problem{Status: 422, Detail: "the request has invalid fields", Errors: []api.FieldError{
			{Field: "title", Message: "must not be empty"}, {Field: "messages[0].content", Message: "must be valid UTF-8"},
			{Field: "system_prompt", Message: "may hold at most 32 KB"}}},
			shown{422, "Check what you entered", "Title must not be empty. Message must be valid UTF-8. That system prompt is too long: shorten it to 32 KB."}},
		{"wrapped", fmt.Errorf("load users: %w", &api.Problem{Status: 404, Detail: "no such user"}),
			shown{404, "Not found", "No such user."}},
		{"echo 404", echo.ErrNotFound, shown{404, "Not found", "There is no page at this address."}},
		{"echo 413", echo.ErrStatusRequestEntityTooLarge, shown{413, "Too large", "What you sent is too large."}},
		{"echo with a message", echo.NewHTTPError(403, "Reload the page and try again."),
			shown{403, "Not allowed", "Reload the page and try again."}},
		{"timeout", fmt.Errorf("call: %w", context.DeadlineExceeded),
			shown{504, "Service unavailable", "The service took too long to answer. Try again in a moment."}},
		{"unreachable", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
			shown{502, "Service unavailable", "The service could not be reached. Try again in a moment."}},
		{"anything else", errors.New("template: boom"),
			shown{500, "Something went wrong", "Something went wrong on our side. Try again in a moment."}},
	} {
		if got := explain(tc.err); got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// The AI pages tell ordinary users that AI is not there yet, and only
// admins what the operator has to do.
func TestAINoticeKeepsTheOperatorHintForAdmins(t *testing.T) {
	notConfigured := &api.Problem{Status: http.StatusServiceUnavailable, Detail: aiNotConfigured}
	for _, tc := range []struct {
		name  string
		err   error
		admin bool
		want  string
	}{
		{"user", notConfigured, false, "AI is not available on this server yet."},
		{"admin", notConfigured, true, "AI is not available on this server yet. AI is not configured on this server: " +
			"the operator must set OPENROUTER_API_KEY (and OPENROUTER_BASE_URL for another endpoint) and restart the backend."},
		{"admin, no detail", &api.Problem{Status: 503}, true, "AI is not available on this server yet."},
		{"other failure", &api.Problem{Status: 502, Detail: "the AI provider failed"}, false,
			"The model list could not be loaded. The AI provider failed."},
		{"unreachable", &net.OpError{Op: "dial", Err: errors.New("refused")}, true,
			"The model list could not be loaded. The service could not be reached. Try again in a moment."},
	} {
		if got := aiNotice(tc.err, tc.admin); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestSentences(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"no such user":        "No such user.",
		"done.":               "Done.",
		"what?":               "What?",
		"a; b;":               "A. B.",
		"  spaced  ;  out ":   "Spaced. Out.",
		"émoji first":         "Émoji first.",
		"Already Capitalised": "Already Capitalised.",
	} {
		if got := sentences(in); got != want {
			t.Errorf("sentences(%q) = %q, want %q", in, got, want)
		}
	}
}
