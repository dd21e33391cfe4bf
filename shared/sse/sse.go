// Package sse reads server-sent events (a text/event-stream body) as the
// WHATWG HTML standard parses them, keeping only what our streams use: the
// data of each event.
//
//   - Lines end with CRLF, LF or a lone CR.
//   - A line starting with ":" is a comment (OpenRouter sends
//     ": OPENROUTER PROCESSING" while a model thinks) and is skipped.
//   - "field: value" (one space after the colon dropped) or "field" alone
//     (empty value). The data lines of an event are joined with "\n"; the
//     event, id and retry fields and unknown fields are skipped.
//   - A blank line ends an event; an event without data lines yields
//     nothing. At the end of the stream an unfinished event (no blank line
//     after it) is dropped, and a leading byte order mark is skipped.
//
// Bytes are passed on as they came: the reader does not decode UTF-8.
//
// A Reader keeps one buffer of Options.BufferSize for its life. A line
// that fits in it is examined in place; a longer one (a base64 image) is
// appended piece by piece to the event it belongs to, or skipped piece by
// piece without being kept. Each event's data is allocated once at its
// size (more only for events of several lines or of lines longer than the
// buffer), so a reader costs little more than its buffer per open stream.
package sse

import (
	"bytes"
	"errors"
	"io"
)

// Defaults of Options.
const (
	DefaultBufferSize   = 4 << 10
	DefaultMaxEventSize = 1 << 20
	// minBufferSize keeps the start of any line, up to "data: ", in one
	// piece.
	minBufferSize = 16
)

// ErrTooLarge is returned when an event's data, or a line the reader
// skips, is longer than Options.MaxEventSize.
var ErrTooLarge = errors.New("sse: event larger than the limit")

// Options configure a Reader; zero fields take the defaults.
type Options struct {
	// BufferSize is the reader's buffer, kept for its life. An event that
	// fits in it costs one allocation (its data); a larger buffer only
	// saves reads and copies on longer lines.
	BufferSize int
	// MaxEventSize bounds the data of one event and any line the reader
	// skips, so a broken or hostile server cannot fill memory.
	MaxEventSize int
}

// lineState says what the next piece of input continues.
type lineState uint8

const (
	lineStart lineState = iota // a new line begins
	lineData                   // the rest of a data line longer than the buffer
	lineSkip                   // the rest of a skipped line longer than the buffer
)

// Reader reads the events of a stream, one at a time. It is not safe for
// concurrent use.
type Reader struct {
	src  io.Reader
	buf  []byte
	r, w int   // unread input is buf[r:w]
	err  error // the source's error, once it returned one
	fail error // ErrTooLarge, once an event was too large: returned ever after
	max  int

	bomChecked bool // the stream's start was checked for a byte order mark
	skipLF     bool // the last line ended with CR: an LF right after it belongs to it
	state      lineState
	skipped    int // length so far of the line being skipped
}

// NewReader returns a Reader of src.
func NewReader(src io.Reader, opts Options) *Reader {
	size := opts.BufferSize
	if size <= 0 {
		size = DefaultBufferSize
	}
	size = max(size, minBufferSize)
	limit := opts.MaxEventSize
	if limit <= 0 {
		limit = DefaultMaxEventSize
	}
	return &Reader{src: src, buf: make([]byte, size), max: limit}
}

// Next returns the data of the next event that has data. The slice is the
// caller's to keep. At the end of the stream it returns io.EOF (an
// unfinished event is dropped); any other error of the source is returned
// as it is, and ErrTooLarge for an event or line over the limit. After an
// error every call returns it again.
func (r *Reader) Next() ([]byte, error) {
	if r.fail != nil {
		return nil, r.fail
	}
	var data []byte
	hasData := false
	for {
		piece, end, err := r.piece()
		if err != nil {
			return nil, err
		}
		switch r.state {
		case lineData:
			data = append(data, piece...)
		case lineSkip:
			r.skipped += len(piece)
		default: // lineStart
			if end && len(piece) == 0 { // a blank line ends the event
				if hasData {
					return data, nil
				}
				continue
			}
			field, value, colon := piece, []byte(nil), false
			if i := bytes.IndexByte(piece, ':'); i >= 0 {
				field, value, colon = piece[:i], piece[i+1:], true
			}
			// A piece that does not end its line is the whole buffer from
			// the line's start: a field name without its colon in it is
			// longer than "data", and a data line's "data: " is all in it.
			if !(colon || end) || string(field) != "data" {
				r.skipped = len(piece)
				r.state = lineSkip
				break
			}
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
			if hasData {
				data = append(data, '\n')
			} else {
				data = make([]byte, 0, len(value))
				hasData = true
			}
			data = append(data, value...)
			r.state = lineData
		}
		if len(data) > r.max || r.skipped > r.max {
			r.fail = ErrTooLarge
			return nil, r.fail
		}
		if end {
			r.state, r.skipped = lineStart, 0
		}
	}
}

// piece returns the next piece of the current line, in the buffer (valid
// until the next call), and whether it ends the line (its end of line is
// consumed, not returned). A line longer than the buffer comes in pieces
// of the buffer's size, the first one starting at the line's start. At the end of the input a line without its end of
// line is dropped with the error.
func (r *Reader) piece() (piece []byte, end bool, err error) {
	for {
		if r.skipLF && r.r < r.w {
			if r.buf[r.r] == '\n' {
				r.r++
			}
			r.skipLF = false
		}
		if !r.bomChecked && (r.w-r.r >= 3 || r.err != nil) {
			if bytes.HasPrefix(r.buf[r.r:r.w], []byte("\xEF\xBB\xBF")) {
				r.r += 3
			}
			r.bomChecked = true
		}
		if r.bomChecked && !r.skipLF {
			unread := r.buf[r.r:r.w]
			if i := indexEOL(unread); i >= 0 {
				r.r += i + 1
				r.skipLF = unread[i] == '\r'
				return unread[:i], true, nil
			}
			if r.r == 0 && r.w == len(r.buf) { // a full buffer without an end of line
				r.w = 0
				return unread, false, nil
			}
		}
		if r.err != nil {
			return nil, false, r.err
		}
		r.fill()
	}
}

// fill moves the unread input to the buffer's start and reads more after
// it, recording the source's error.
func (r *Reader) fill() {
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	for range 100 {
		n, err := r.src.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}

// indexEOL is the index of the first CR or LF in b, or -1.
func indexEOL(b []byte) int {
	lf := bytes.IndexByte(b, '\n')
	before := b
	if lf >= 0 {
		before = b[:lf]
	}
	if cr := bytes.IndexByte(before, '\r'); cr >= 0 {
		return cr
	}
	return lf
}
