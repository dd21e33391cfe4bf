package proxy

import (
	"net/http"
	"sync"
	"time"
)

// headerFlushDelay is how long the headers of a response whose body has not
// started wait for it before they are sent alone.
const headerFlushDelay = 20 * time.Millisecond

// immediateWriter passes every body write to the browser at once (chat
// answers are server-sent events; video bytes must flow too), with the
// response headers travelling in the same packet as the first bytes.
//
// ReverseProxy flushes event streams by itself, but from a timer goroutine
// started with the response, which usually sends the headers alone just
// before the first event: the browser then wakes twice for the first event
// and a busy machine charges each wake-up. Here a flush before the first body
// byte only arms a short timer, so headers still reach a browser whose
// response body is slow to start.
type immediateWriter struct {
	w     http.ResponseWriter
	flush func() error

	mu       sync.Mutex
	wrote    bool        // a body byte was written: the headers are out
	finished bool        // the handler returned: w must not be touched
	timer    *time.Timer // the pending header flush
}

func newImmediateWriter(w http.ResponseWriter) *immediateWriter {
	return &immediateWriter{w: w, flush: http.NewResponseController(w).Flush}
}

func (iw *immediateWriter) Header() http.Header { return iw.w.Header() }

func (iw *immediateWriter) WriteHeader(status int) { iw.w.WriteHeader(status) }

// Unwrap lets http.ResponseController reach the browser's connection (for
// hijacking and deadlines).
func (iw *immediateWriter) Unwrap() http.ResponseWriter { return iw.w }

func (iw *immediateWriter) Write(p []byte) (int, error) {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	iw.wrote = true
	if iw.timer != nil {
		iw.timer.Stop()
	}
	n, err := iw.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, iw.flush()
}

// Flush is what ReverseProxy calls: writes flush themselves, so only the
// headers of a response without body bytes yet are left, and those wait
// headerFlushDelay for the first bytes to join them.
func (iw *immediateWriter) Flush() {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	if iw.wrote || iw.finished || iw.timer != nil {
		return
	}
	iw.timer = time.AfterFunc(headerFlushDelay, iw.flushHeaders)
}

func (iw *immediateWriter) flushHeaders() {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	if !iw.wrote && !iw.finished {
		_ = iw.flush()
	}
}

// finish is called when the proxy returns: the server completes the
// response from here, and a pending header flush must not run after it.
func (iw *immediateWriter) finish() {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	iw.finished = true
	if iw.timer != nil {
		iw.timer.Stop()
	}
}
