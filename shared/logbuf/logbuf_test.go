package logbuf

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records the writes that reach it.
type sink struct {
	mu     sync.Mutex
	writes []string
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) text() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, ""), len(s.writes)
}

func waitFor(t *testing.T, s *sink, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got, _ := s.text(); got == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, _ := s.text()
	t.Fatalf("output %q, want %q", got, want)
}

func TestLinesAreWrittenTogetherAfterTheInterval(t *testing.T) {
	out := &sink{}
	w := New(out, 50*time.Millisecond)
	fmt.Fprintln(w, "one")
	fmt.Fprintln(w, "two")
	if got, _ := out.text(); got != "" {
		t.Fatalf("written before the interval: %q", got)
	}
	waitFor(t, out, "one\ntwo\n")
	if _, writes := out.text(); writes != 1 {
		t.Fatalf("%d writes, want the two lines in one", writes)
	}
	fmt.Fprintln(w, "three") // a quiet spell re-arms the timer
	waitFor(t, out, "one\ntwo\nthree\n")
}

func TestAFullBufferIsWrittenAtOnce(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	line := strings.Repeat("x", 1023) + "\n"
	for range flushSize / len(line) {
		w.Write([]byte(line))
	}
	if got, _ := out.text(); len(got) != flushSize {
		t.Fatalf("%d bytes written after filling the buffer, want %d", len(got), flushSize)
	}
}

func TestCloseFlushesAndLaterWritesGoStraightThrough(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	fmt.Fprintln(w, "before")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(w, "after")
	if got, _ := out.text(); got != "before\nafter\n" {
		t.Fatalf("output %q", got)
	}
}

func TestErrorsAreWrittenAtOnceWithWhatCameBefore(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	logger := slog.New(FlushAt(slog.NewTextHandler(w, nil), w, slog.LevelError)).With("service", "test")
	logger.Info("request")
	if got, _ := out.text(); got != "" {
		t.Fatalf("info line written at once: %q", got)
	}
	logger.Error("boom")
	got, _ := out.text()
	if !strings.Contains(got, "msg=request") || !strings.Contains(got, "msg=boom service=test") {
		t.Fatalf("after an error the log holds %q", got)
	}
}

func TestConcurrentLinesStayWhole(t *testing.T) {
	var out bytes.Buffer
	w := New(&out, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				fmt.Fprintf(w, "goroutine %d line %d\n", g, i)
			}
		})
	}
	wg.Wait()
	w.Close()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		var g, i int
		if n, err := fmt.Sscanf(l, "goroutine %d line %d", &g, &i); n != 2 || err != nil {
			t.Fatalf("torn line %q", l)
		}
	}
}
