package httpx

import (
	"bytes"
	"net/http"

	"github.com/gin-gonic/gin"
)

// EventWriter returns the emit function of a server-sent event stream: the
// first event sends the headers, each event is written as data lines and
// flushed at once, so tokens reach the client as upstream produces them.
// Nothing between here and the connection buffers or compresses the body.
func EventWriter(c *gin.Context) func(data []byte) error {
	started := false
	var event []byte // reused: one stream writes one event at a time
	return func(data []byte) error {
		if !started {
			h := c.Writer.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no")
			c.Writer.WriteHeader(http.StatusOK)
			started = true
		}
		event = appendEvent(event[:0], data)
		_, err := c.Writer.Write(event)
		if cap(event) > maxKeptEventBuffer {
			event = nil // a rare huge event (an image) is not kept for the stream's life
		}
		if err != nil {
			return err
		}
		c.Writer.Flush()
		return c.Request.Context().Err()
	}
}

// maxKeptEventBuffer is the largest event buffer a stream keeps between events.
const maxKeptEventBuffer = 64 << 10

// appendEvent appends data as one server-sent event: each of its lines as a
// "data: " line, then the blank line that ends the event.
func appendEvent(dst, data []byte) []byte {
	for {
		line, rest, more := bytes.Cut(data, []byte("\n"))
		dst = append(dst, "data: "...)
		dst = append(dst, line...)
		dst = append(dst, '\n')
		if !more {
			return append(dst, '\n')
		}
		data = rest
	}
}
