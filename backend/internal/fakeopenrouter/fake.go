// Package fakeopenrouter is a local stand-in for OpenRouter: an http.Handler
// that follows shared/openrouter/openapi.yaml in paths, the request fields it
// reads and the shapes of its answers, so the gateway can be tested (and run
// on a laptop) without the real provider. It is the only fake of the project.
//
// It serves the API both under /api/v1 (like https://openrouter.ai/api/v1)
// and at the root, so OPENROUTER_BASE_URL may be http://HOST or
// http://HOST/api/v1:
//
//	GET  /models[?output_modalities=all|text|image,...]
//	POST /chat/completions          JSON, or SSE with "stream": true
//	POST /images, GET /images/models
//	POST /videos, GET /videos/{id}, GET /videos/{id}/content?index=0, GET /videos/models
//
// Every API call needs "Authorization: Bearer <Options.APIKey>" (401 in
// OpenRouter's error shape otherwise). Chat answers are deterministic: they
// quote the last user message. Offered tools, a chat whose last message is
// the user's answers with a call of the first tool (or the one tool_choice
// names; none with "none"), its required string parameters set to that
// message, finish_reason tool_calls; after a tool message it answers in
// text quoting the tool. With "modalities" containing "image" the
// answer carries a small real PNG as a data: URL; image-only models must be
// asked with ["image"] and text models refuse images, like upstream. Video
// jobs go pending → in_progress → completed after Options.VideoPolls polls
// (or Options.VideoAfter), and their content is a real 64x64 H.264 MP4.
//
// # Failure switches
//
// A failure mode makes the next matching API calls fail:
//
//	401, 402, 429 (with Retry-After), 500   that status, OpenRouter's error body
//	malformed          200 with a truncated JSON body
//	hang               no answer until the client goes away
//	error-in-200       200 whose body is {"error": {"code": 502, ...}}
//	error-mid-stream   a streaming chat sends two chunks, then an error event
//	                   (non-streaming calls are served normally)
//	video-failed       a submitted video job ends in status "failed"
//
// Three ways to switch one on, checked in this order:
//
//   - the request header X-Fake-Fail: <mode> (X-Fake-Retry-After: <seconds>);
//   - the marker [fake-fail:<mode>] anywhere in the request body, e.g. in a
//     prompt, which reaches the fake through the gateway untouched;
//   - a rule: Server.Fail(FailureRule{...}) in Go, or over HTTP (no auth,
//     for end-to-end tests of the running binary):
//     POST /_fake/failures {"mode":"429","path":"/chat","times":1,"retry_after":7}
//     DELETE /_fake/failures clears them.
//
// What it received is recorded (Server.Requests, or GET /_fake/requests;
// DELETE /_fake/requests forgets), including whether the client
// disconnected before the answer was complete.
package fakeopenrouter

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value works.
type Options struct {
	// APIKey is the only accepted bearer token (default "fake-key").
	APIKey string
	// ChunkDelay is the pause between two events of a streaming chat.
	ChunkDelay time.Duration
	// VideoPolls is how many polls a video job needs to complete (default 2:
	// the first poll says in_progress, the second completed).
	VideoPolls int
	// VideoAfter, when set, completes jobs after this long instead.
	VideoAfter time.Duration
	// AbsolutePollingURL makes polling_url absolute (http://host/api/v1/...);
	// by default it is relative (/api/v1/videos/{id}), like the spec's example.
	AbsolutePollingURL bool
	// Logger receives one record per request (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// maxRecorded is how many requests the fake remembers.
const maxRecorded = 200

// maxRequestBody is the largest body accepted (413 above, like upstream).
const maxRequestBody = 32 << 20

// Server is the fake OpenRouter.
type Server struct {
	opts   Options
	png    []byte
	mux    *http.ServeMux
	closed chan struct{}
	close  sync.Once

	mu       sync.Mutex
	rules    []FailureRule
	requests []*Request
	changed  chan struct{}
	jobs     map[string]*videoJob
	seq      int
}

// New returns a fake OpenRouter configured by opts.
func New(opts Options) *Server {
	if opts.APIKey == "" {
		opts.APIKey = "fake-key"
	}
	if opts.VideoPolls <= 0 {
		opts.VideoPolls = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, png: samplePNG(), closed: make(chan struct{}),
		changed: make(chan struct{}), jobs: map[string]*videoJob{}}
	s.mux = s.routes()
	return s
}

// Handler is the fake's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// ServeHTTP makes *Server an http.Handler too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close ends hanging requests and streams (for a graceful shutdown).
func (s *Server) Close() { s.close.Do(func() { close(s.closed) }) }

func (s *Server) routes() *http.ServeMux {
	api := http.NewServeMux()
	api.HandleFunc("GET /models", s.listModels)
	api.HandleFunc("POST /chat/completions", s.chatCompletions)
	api.HandleFunc("POST /images", s.createImage)
	api.HandleFunc("GET /images/models", s.listImageModels)
	api.HandleFunc("POST /videos", s.submitVideo)
	api.HandleFunc("GET /videos/models", s.listVideoModels)
	api.HandleFunc("GET /videos/{jobId}", s.getVideo)
	api.HandleFunc("GET /videos/{jobId}/content", s.videoContent)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Resource not found")
	})
	guarded := s.authenticate(s.injectFailures(api))

	root := http.NewServeMux()
	root.HandleFunc("GET /_fake/requests", s.controlListRequests)
	root.HandleFunc("DELETE /_fake/requests", s.controlResetRequests)
	root.HandleFunc("GET /_fake/failures", s.controlListFailures)
	root.HandleFunc("POST /_fake/failures", s.controlAddFailure)
	root.HandleFunc("DELETE /_fake/failures", s.controlClearFailures)
	root.Handle("/api/v1/", s.record(http.StripPrefix("/api/v1", guarded)))
	root.Handle("/", s.record(guarded))
	return root
}

// authenticate answers 401 unless the bearer token is the configured key.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok || token == "":
			writeError(w, http.StatusUnauthorized, "Missing Authentication header")
		case token != s.opts.APIKey:
			writeError(w, http.StatusUnauthorized, "User not found.")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// writeError answers OpenRouter's error shape {"error": {"code", "message"}}.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody(status, message))
}

func errorBody(code int, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": message}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON request body into v, answering 400/413 itself.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// waitOrGone waits d, or returns false when the client went away or the
// server closes first.
func (s *Server) waitOrGone(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}
