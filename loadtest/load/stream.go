package load

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/duckgate/duckgate/shared/sse"
)

// streamTimes is what reading one event stream measured.
type streamTimes struct {
	// firstByte is the time from sending the request to the first data
	// event, the first thing a user sees; seen says there was one.
	firstByte time.Duration
	seen      bool
	// gaps are the times between consecutive data events.
	gaps []time.Duration
}

// Sizes of the event reader: the load tool's streams are chat chunks, and
// the limit only stops a broken server from filling memory.
const (
	eventBufferSize   = 64 << 10
	maxEventSizeBytes = 64 << 20
)

// readEvents reads a text/event-stream body event by event (shared/sse),
// noting when each event with data is complete. Comments (": ...") and
// events without data are not events a user sees, so they do not count; a
// proxy that stripped them is not penalised. Events that arrive in one read
// get (almost) the same time, which is how buffering shows up: gaps near
// zero next to gaps twice as long. It also returns the body as read (its
// first MaxBodyBytes) for Check.
func readEvents(r io.Reader, sent time.Time) ([]byte, streamTimes, error) {
	var (
		times streamTimes
		body  = &boundedBuffer{limit: MaxBodyBytes}
		last  time.Time
	)
	events := sse.NewReader(io.TeeReader(r, body), sse.Options{BufferSize: eventBufferSize, MaxEventSize: maxEventSizeBytes})
	for {
		_, err := events.Next()
		if errors.Is(err, io.EOF) {
			return body.Bytes(), times, nil
		}
		if err != nil {
			return body.Bytes(), times, err
		}
		now := time.Now()
		if times.seen {
			times.gaps = append(times.gaps, now.Sub(last))
		} else {
			times.firstByte, times.seen = now.Sub(sent), true
		}
		last = now
	}
}

// boundedBuffer keeps the first limit bytes written to it and drops the rest.
type boundedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
