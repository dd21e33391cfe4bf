package load

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"time"
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

// readEvents reads a text/event-stream body line by line, noting when each
// "data:" line arrives. Comments (": ...") and other fields are not events
// a user sees, so they do not count; a proxy that stripped them is not
// penalised. Lines that arrive in one read get (almost) the same time, which
// is how buffering shows up: gaps near zero next to gaps twice as long.
func readEvents(r io.Reader, sent time.Time) ([]byte, streamTimes, error) {
	var (
		times streamTimes
		body  bytes.Buffer
		last  time.Time
	)
	reader := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := reader.ReadSlice('\n')
		if len(line) > 0 {
			now := time.Now()
			if bytes.HasPrefix(line, []byte("data:")) {
				if times.seen {
					times.gaps = append(times.gaps, now.Sub(last))
				} else {
					times.firstByte, times.seen = now.Sub(sent), true
				}
				last = now
			}
			if body.Len()+len(line) <= MaxBodyBytes {
				body.Write(line)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			// A line longer than the buffer: its start was timed, read on.
			// Continuation pieces never start with "data:" in practice.
		case errors.Is(err, io.EOF):
			return body.Bytes(), times, nil
		default:
			return body.Bytes(), times, err
		}
	}
}
