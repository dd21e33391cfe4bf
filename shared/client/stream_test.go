package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

func chunkEvent(content string) string {
	b, _ := json.Marshal(api.ChatChunk{ID: "c1", Object: "chat.completion.chunk",
		Choices: []api.ChatChunkChoice{{Delta: api.ChatDelta{Content: content}}}})
	return "data: " + string(b) + "\n\n"
}

const done = "data: [DONE]\n\n"

// describe renders one result of Next for comparison.
func describe(chunk *api.ChatChunk, err error) string {
	var se *StreamError
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "cut"
	case errors.As(err, &se):
		return fmt.Sprintf("error %d %s", se.Code, se.Message)
	case err != nil:
		return "failed: " + err.Error()
	}
	var b strings.Builder
	for _, c := range chunk.Choices {
		b.WriteString(c.Delta.Content)
	}
	return b.String()
}

func sseServer(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var hello = api.ChatRequest{Messages: []api.ChatMessage{{Role: api.ChatRoleUser, Content: "hi"}}}

func TestChatStreamParsesEvents(t *testing.T) {
	huge := strings.Repeat("A", 5<<20) // a base64 image is one line of several MiB
	tests := []struct {
		name   string
		stream string
		want   []string
	}{
		{"chunks then done", chunkEvent("Hel") + chunkEvent("lo") + done, []string{"Hel", "lo", "EOF", "EOF"}},
		{"comments, other fields, CRLF and multi-line data",
			": keep-alive\r\n\r\nevent: message\r\nid: 7\r\nretry: 100\r\ndata: {\"choices\":\r\ndata: [{\"delta\":{\"content\":\"x\"}}]}\r\n\r\n" +
				"data:\n\ndata: [DONE]\r\n\r\n",
			[]string{"x", "EOF"}},
		{"error event, then done", chunkEvent("partial") + `data: {"error":{"code":502,"message":"provider failed"}}` + "\n\n" + done,
			[]string{"partial", "error 502 provider failed", "EOF"}},
		{"error event with a string code", `data: {"error":{"code":"504","message":"timed out"}}` + "\n\n" + done,
			[]string{"error 504 timed out", "EOF"}},
		{"cut before done", chunkEvent("half") + "data: {\"choi", []string{"half", "cut", "cut"}},
		{"huge line", chunkEvent(huge) + done, []string{huge, "EOF"}},
		{"unknown fields are ignored", `data: {"choices":[{"delta":{"content":"y","reasoning":"z"}}],"provider":"p"}` + "\n\n" + done,
			[]string{"y", "EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := sseServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, tt.stream) })
			s, err := New(srv.URL).ChatStream(t.Context(), hello)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i, want := range tt.want {
				if got := describe(s.Next()); got != want {
					t.Fatalf("Next #%d = %.80q, want %.80q", i+1, got, want)
				}
			}
		})
	}
}

// The first chunk reaches the caller while the server still holds the
// second: nothing waits for the end of the stream.
func TestChatStreamDeliversChunksAsTheyArrive(t *testing.T) {
	proceed := make(chan struct{})
	var sent struct{ body, accept string }
	srv := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sent.body, sent.accept = string(b), r.Header.Get("Accept")
		_, _ = io.WriteString(w, chunkEvent("first"))
		w.(http.Flusher).Flush()
		select {
		case <-proceed:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, chunkEvent("second")+done)
	})
	s, err := New(srv.URL).WithToken("tok").ChatStream(t.Context(), hello)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(sent.body, `"stream":true`) || !strings.HasPrefix(sent.accept, "text/event-stream") {
		t.Errorf("sent body %s with Accept %q, want stream:true and an event-stream Accept", sent.body, sent.accept)
	}

	first := make(chan string, 1)
	go func() { first <- describe(s.Next()) }()
	select {
	case got := <-first:
		if got != "first" {
			t.Fatalf("first Next = %q", got)
		}
	case <-time.After(5 * time.Second):
		close(proceed)
		t.Fatal("Next waited for more than the first event")
	}
	close(proceed)
	for _, want := range []string{"second", "EOF"} {
		if got := describe(s.Next()); got != want {
			t.Fatalf("Next = %q, want %q", got, want)
		}
	}
}

func TestChatStreamRefusals(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		check       func(error) bool
	}{
		{"a problem before the stream began", 503, api.ProblemContentType,
			`{"type":"` + api.TypeAINotConfigured + `","title":"AI not configured","status":503}`,
			func(err error) bool { p, ok := err.(*api.Problem); return ok && p.Type == api.TypeAINotConfigured }},
		{"a JSON answer instead of a stream", 200, "application/json", `{"id":"c1"}`,
			func(err error) bool {
				return strings.Contains(err.Error(), `expected an event stream, got content type "application/json"`)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := recordingServer(t, tt.status, tt.contentType, tt.body)
			s, err := New(srv.URL).ChatStream(t.Context(), hello)
			if s != nil || err == nil || !tt.check(err) {
				t.Errorf("got stream %v, error %v", s, err)
			}
		})
	}
}

func TestChatStreamStopsWhenTheContextIsCancelled(t *testing.T) {
	srv := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, chunkEvent("first"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a provider that never answers again
	})
	ctx, cancel := context.WithCancel(t.Context())
	s, err := New(srv.URL).ChatStream(ctx, hello)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := describe(s.Next()); got != "first" {
		t.Fatalf("Next = %q", got)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := s.Next(); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel = %v, want context.Canceled", err)
	}
}

func TestChatStreamsReuseTheConnection(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, chunkEvent("a"))
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, done)
		w.(http.Flusher).Flush()
		// The end of the chunked body follows [DONE] a moment later, as when
		// a handler flushes and then returns; Close must wait for it.
		time.Sleep(20 * time.Millisecond)
	}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(srv.URL)
	for range 3 {
		s, err := c.ChatStream(t.Context(), hello)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := s.Next(); err == nil; _, err = s.Next() {
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 streams read to the end, want 1", n)
	}
}
