// Package logbuf batches log lines so that a busy server does not pay one
// write system call per request log.
//
// Lines are appended to a buffer and written together at most Interval
// after the first of them, or at once when the buffer passes its size
// bound or a record is an error. The cost: a process killed with SIGKILL
// loses at most Interval of info and warning lines; a normal exit flushes
// (call Close).
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Defaults of New.
const (
	DefaultInterval = 100 * time.Millisecond
	// flushSize is the buffered size that triggers an immediate write.
	flushSize = 64 << 10
)

// Writer is an io.Writer that batches whole writes (log lines) for out.
// It is safe for concurrent use; each Write reaches out whole.
type Writer struct {
	out      io.Writer
	interval time.Duration

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer
	closed bool
}

// New returns a Writer that writes to out at most interval (0: the
// default) after a line arrives.
func New(out io.Writer, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = DefaultInterval
	}
	w := &Writer{out: out, interval: interval}
	w.timer = time.AfterFunc(time.Hour, func() { _ = w.Flush() })
	w.timer.Stop()
	return w
}

// Write buffers p. After Close it writes p straight through.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.out.Write(p)
	}
	if len(w.buf) == 0 {
		w.timer.Reset(w.interval)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= flushSize {
		return len(p), w.flushLocked()
	}
	return len(p), nil
}

// Flush writes what is buffered now.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	w.timer.Stop()
	_, err := w.out.Write(w.buf)
	if cap(w.buf) > 4*flushSize {
		w.buf = nil // a burst of huge lines: do not keep their buffer
	} else {
		w.buf = w.buf[:0]
	}
	return err
}

// Close flushes and makes later writes unbuffered.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.flushLocked()
}

// FlushAt wraps h so that a record at level or above is written at once
// with everything buffered before it: an error reaches the log even if
// the process dies right after.
func FlushAt(h slog.Handler, w *Writer, level slog.Level) slog.Handler {
	return &flushingHandler{Handler: h, w: w, level: level}
}

type flushingHandler struct {
	slog.Handler
	w     *Writer
	level slog.Level
}

func (h *flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.level {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &flushingHandler{Handler: h.Handler.WithAttrs(attrs), w: h.w, level: h.level}
}

func (h *flushingHandler) WithGroup(name string) slog.Handler {
	return &flushingHandler{Handler: h.Handler.WithGroup(name), w: h.w, level: h.level}
}
