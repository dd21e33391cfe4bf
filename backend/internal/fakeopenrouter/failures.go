package fakeopenrouter

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Failure is a failure mode (see the package comment).
type Failure string

// The failure modes.
const (
	FailUnauthorized    Failure = "401"
	FailPaymentRequired Failure = "402"
	FailRateLimited     Failure = "429"
	FailServerError     Failure = "500"
	FailMalformed       Failure = "malformed"
	FailHang            Failure = "hang"
	FailErrorIn200      Failure = "error-in-200"
	FailMidStream       Failure = "error-mid-stream"
	FailVideoJob        Failure = "video-failed"
)

// DefaultRetryAfter is the Retry-After (seconds) of a simulated 429.
const DefaultRetryAfter = 7

// FailureRule switches a failure mode on for matching API calls.
type FailureRule struct {
	Mode Failure `json:"mode"`
	// Path limits the rule to calls whose path (without /api/v1) starts with
	// it, e.g. "/chat" or "/videos"; empty matches every call.
	Path string `json:"path,omitempty"`
	// Times is how many calls fail; 0 means until cleared.
	Times int `json:"times,omitempty"`
	// RetryAfter is the Retry-After of a 429, in seconds (default 7).
	RetryAfter int `json:"retry_after,omitempty"`
}

// Fail adds a failure rule (the oldest matching rule applies first).
func (s *Server) Fail(rule FailureRule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, rule)
}

// ClearFailures removes every failure rule.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// Failures returns the active rules.
func (s *Server) Failures() []FailureRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]FailureRule(nil), s.rules...)
}

var markerPattern = regexp.MustCompile(`\[fake-fail:([a-z0-9-]+)\]`)

type failureKey struct{}

// failureOf is the failure chosen for the request being served ("" none).
func failureOf(ctx context.Context) FailureRule {
	rule, _ := ctx.Value(failureKey{}).(FailureRule)
	return rule
}

// injectFailures chooses the failure of a request (header, body marker,
// then rules) and acts out the modes that do not depend on the operation;
// the others (mid-stream error, failed video job) are left to the handlers.
func (s *Server) injectFailures(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule, ok := s.chooseFailure(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		switch rule.Mode {
		case FailUnauthorized:
			writeError(w, http.StatusUnauthorized, "User not found.")
		case FailPaymentRequired:
			writeError(w, http.StatusPaymentRequired,
				"Insufficient credits. Add more using https://openrouter.ai/settings/credits")
		case FailRateLimited:
			retry := rule.RetryAfter
			if retry <= 0 {
				retry = DefaultRetryAfter
			}
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			writeError(w, http.StatusTooManyRequests, "Rate limit exceeded: free-models-per-min.")
		case FailServerError:
			writeError(w, http.StatusInternalServerError, "Internal Server Error")
		case FailMalformed:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id": "gen-broken", "choices": [{"message": {"content": "trunc`))
		case FailHang:
			if !s.waitOrGone(r.Context(), 1<<62) {
				s.markDisconnected(r)
			}
		case FailErrorIn200:
			body := errorBody(http.StatusBadGateway, "Provider returned error")
			body["error"].(map[string]any)["metadata"] = map[string]any{"provider_name": "FakeProvider"}
			writeJSON(w, http.StatusOK, body)
		default: // handled by the operation itself
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), failureKey{}, rule)))
		}
	})
}

// chooseFailure finds the failure asked for this request, consuming one use
// of a counted rule.
func (s *Server) chooseFailure(r *http.Request) (FailureRule, bool) {
	if mode := Failure(r.Header.Get("X-Fake-Fail")); mode != "" {
		retry, _ := strconv.Atoi(r.Header.Get("X-Fake-Retry-After"))
		return FailureRule{Mode: mode, RetryAfter: retry}, true
	}
	if rec := recorded(r); rec != nil {
		if m := markerPattern.FindSubmatch(rec.Body); m != nil {
			return FailureRule{Mode: Failure(m[1])}, true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, rule := range s.rules {
		if !strings.HasPrefix(r.URL.Path, rule.Path) || !appliesTo(rule.Mode, r) {
			continue
		}
		if rule.Times > 0 {
			s.rules[i].Times--
			if s.rules[i].Times == 0 {
				s.rules = append(s.rules[:i], s.rules[i+1:]...)
			}
		}
		return rule, true
	}
	return FailureRule{}, false
}

// appliesTo keeps operation-specific modes from being used up by other
// calls: a mid-stream error needs a streaming chat, a failed job a submission.
func appliesTo(mode Failure, r *http.Request) bool {
	switch mode {
	case FailMidStream:
		rec := recorded(r)
		return r.URL.Path == "/chat/completions" && rec != nil && isStreaming(rec.Body)
	case FailVideoJob:
		return r.Method == http.MethodPost && r.URL.Path == "/videos"
	}
	return true
}

func isStreaming(body []byte) bool {
	var probe struct {
		Stream bool `json:"stream"`
	}
	return json.Unmarshal(body, &probe) == nil && probe.Stream
}

// Control endpoints (/_fake/...), for end-to-end tests of the binary.

func (s *Server) controlListRequests(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"requests": s.Requests()})
}

func (s *Server) controlResetRequests(w http.ResponseWriter, r *http.Request) {
	s.ResetRequests()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) controlListFailures(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"failures": s.Failures()})
}

func (s *Server) controlAddFailure(w http.ResponseWriter, r *http.Request) {
	var rule FailureRule
	if err := json.NewDecoder(r.Body).Decode(&rule); err != nil {
		writeError(w, http.StatusBadRequest, "body must be a failure rule: "+err.Error())
		return
	}
	if !knownFailure(rule.Mode) {
		writeError(w, http.StatusBadRequest, "unknown failure mode "+strconv.Quote(string(rule.Mode)))
		return
	}
	s.Fail(rule)
	writeJSON(w, http.StatusCreated, rule)
}

func (s *Server) controlClearFailures(w http.ResponseWriter, r *http.Request) {
	s.ClearFailures()
	w.WriteHeader(http.StatusNoContent)
}

func knownFailure(mode Failure) bool {
	switch mode {
	case FailUnauthorized, FailPaymentRequired, FailRateLimited, FailServerError,
		FailMalformed, FailHang, FailErrorIn200, FailMidStream, FailVideoJob:
		return true
	}
	return false
}
