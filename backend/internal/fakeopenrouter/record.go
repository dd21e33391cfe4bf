package fakeopenrouter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// Request is one request the fake received.
type Request struct {
	Time   time.Time   `json:"time"`
	Method string      `json:"method"`
	Path   string      `json:"path"` // as received, /api/v1 included
	Query  string      `json:"query,omitempty"`
	Header http.Header `json:"header"` // Authorization included
	Body   []byte      `json:"body,omitempty"`
	// Status is the status the fake answered (0 while in progress).
	Status int `json:"status"`
	// Disconnected is true when the client went away before the fake
	// finished answering (a canceled stream, a hang that was given up).
	Disconnected bool `json:"disconnected"`
	// Done is true once the fake finished with the request.
	Done bool `json:"done"`
}

// JSONBody decodes the recorded body (for assertions).
func (r Request) JSONBody() (map[string]any, error) {
	var v map[string]any
	err := json.Unmarshal(r.Body, &v)
	return v, err
}

type recordKey struct{}

// recorded is the record of the request being served.
func recorded(r *http.Request) *Request {
	rec, _ := r.Context().Value(recordKey{}).(*Request)
	return rec
}

// record remembers every API request with its body (which it buffers, so
// later stages can read it again) and the status answered.
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		rec := &Request{Time: s.opts.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body}
		s.addRecord(rec)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			s.update(func() { rec.Status, rec.Done = sw.status, true })
			s.opts.Logger.Info("fake openrouter request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "disconnected", rec.Disconnected)
		}()
		switch {
		case err != nil:
			writeError(sw, http.StatusBadRequest, "could not read the request body")
			return
		case len(body) > maxRequestBody:
			writeError(sw, http.StatusRequestEntityTooLarge, "Request payload too large")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), recordKey{}, rec)))
	})
}

// markDisconnected notes that the client of r went away early.
func (s *Server) markDisconnected(r *http.Request) {
	if rec := recorded(r); rec != nil {
		s.update(func() { rec.Disconnected = true })
	}
}

func (s *Server) addRecord(rec *Request) {
	s.update(func() {
		s.requests = append(s.requests, rec)
		if len(s.requests) > maxRecorded {
			s.requests = s.requests[len(s.requests)-maxRecorded:]
		}
	})
}

// update changes recorded state under the lock and wakes WaitRequest.
func (s *Server) update(change func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change()
	close(s.changed)
	s.changed = make(chan struct{})
}

// Requests returns copies of the recorded requests, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, rec := range s.requests {
		out[i] = *rec
	}
	return out
}

// LastRequest returns the newest request whose path ends with suffix
// ("/chat/completions"); "" matches any.
func (s *Server) LastRequest(suffix string) (Request, bool) {
	reqs := s.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if strings.HasSuffix(reqs[i].Path, suffix) {
			return reqs[i], true
		}
	}
	return Request{}, false
}

// WaitRequest waits until a recorded request satisfies match (e.g. a
// finished chat whose client disconnected) and returns it.
func (s *Server) WaitRequest(ctx context.Context, match func(Request) bool) (Request, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		for _, req := range s.Requests() {
			if match(req) {
				return req, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Request{}, ctx.Err()
		}
	}
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.update(func() { s.requests = nil })
}

// statusWriter remembers the status and keeps streaming possible.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
