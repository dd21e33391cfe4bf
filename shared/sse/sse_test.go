package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every event of stream through a Reader with opts, the
// source handing out at most chunk bytes per Read (0: all at once).
func readAll(stream string, opts Options, chunk int) ([]string, error) {
	var src io.Reader = strings.NewReader(stream)
	if chunk > 0 {
		src = &chunkReader{data: []byte(stream), size: chunk}
	}
	r := NewReader(src, opts)
	var events []string
	for {
		data, err := r.Next()
		if err != nil {
			return events, err
		}
		events = append(events, string(data))
	}
}

// chunkReader hands out its data size bytes at a time, with an empty read
// between pieces now and then, as a network connection does.
type chunkReader struct {
	data  []byte
	size  int
	calls int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.calls++
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	if c.calls%3 == 0 {
		return 0, nil
	}
	n := copy(p[:min(len(p), c.size)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func TestReader(t *testing.T) {
	long := strings.Repeat("A", 5000) // longer than the buffers below
	cases := []struct {
		name   string
		stream string
		want   []string
	}{
		{"one event", "data: hello\n\n", []string{"hello"}},
		{"several", "data: a\n\ndata: b\n\n", []string{"a", "b"}},
		{"multi-line data joined with LF", "data: a\ndata: b\ndata:c\n\n", []string{"a\nb\nc"}},
		{"CRLF", "data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n", []string{"a\nb", "c"}},
		{"lone CR", "data: a\rdata: b\r\rdata: c\r\r", []string{"a\nb", "c"}},
		{"mixed line ends", "data: a\r\n\ndata: b\r\rdata: c\n\r\n", []string{"a", "b", "c"}},
		{"comments skipped", ": OPENROUTER PROCESSING\n\n: more\ndata: x\n: inside\n\n", []string{"x"}},
		{"other fields skipped", "event: message\nid: 7\nretry: 10\nfoo: bar\ndata: x\n\n", []string{"x"}},
		{"event without data yields nothing", "event: ping\n\nid: 1\n\ndata: x\n\n", []string{"x"}},
		{"only one space dropped", "data:  two spaces\n\ndata:\ttab\n\n", []string{" two spaces", "\ttab"}},
		{"field without colon", "data\n\ndata\ndata\n\n", []string{"", "\n"}},
		{"empty data line", "data:\n\n", []string{""}},
		{"data field name exact", "Data: x\n\ndatax: y\n\n data: z\n\n", nil},
		{"colon in value", "data: {\"a\":\"b:c\"}\n\n", []string{`{"a":"b:c"}`}},
		{"blank lines between events", "\n\n\ndata: x\n\n\n\n", []string{"x"}},
		{"unfinished event dropped at the end", "data: a\n\ndata: b\n", []string{"a"}},
		{"unterminated last line dropped", "data: a\n\ndata: b", []string{"a"}},
		{"byte order mark skipped", "\xEF\xBB\xBFdata: a\n\n", []string{"a"}},
		{"only a leading byte order mark", "data: a\n\n\xEF\xBB\xBFdata: b\n\n", []string{"a"}},
		{"long line", "data: " + long + "\n\n", []string{long}},
		{"long lines joined", "data: " + long + "\ndata: " + long + "\n\n", []string{long + "\n" + long}},
		{"long comment skipped", ": " + long + "\ndata: x\n\n", []string{"x"}},
		{"long unknown field skipped", long + ": v\ndata: x\n\n", []string{"x"}},
		{"long field name without colon", long + "\ndata: x\n\n", []string{"x"}},
		{"done", "data: {\"id\":1}\n\ndata: [DONE]\n\n", []string{`{"id":1}`, "[DONE]"}},
	}
	for _, tc := range cases {
		for _, size := range []int{16, 17, 64, 1024, 0} {
			for _, chunk := range []int{0, 1, 3, 100} {
				got, err := readAll(tc.stream, Options{BufferSize: size, MaxEventSize: 1 << 20}, chunk)
				if !errors.Is(err, io.EOF) || !slices.Equal(got, tc.want) {
					t.Errorf("%s (buffer %d, reads of %d): got %q, %v; want %q, io.EOF", tc.name, size, chunk, got, err, tc.want)
				}
			}
		}
	}
}

// A data line longer than the buffer, starting anywhere in it and arriving
// in reads of any size, keeps all its data and loses only the one space.
func TestLongDataLineAtAnyOffset(t *testing.T) {
	for pad := range 20 {
		stream := strings.Repeat(":\n", pad) + "data: " + strings.Repeat("v", 40) + "\n\n"
		for size := 16; size < 24; size++ {
			got, err := readAll(stream, Options{BufferSize: size}, pad+1)
			if len(got) != 1 || got[0] != strings.Repeat("v", 40) || !errors.Is(err, io.EOF) {
				t.Fatalf("buffer %d, reads of %d: %q, %v", size, pad+1, got, err)
			}
		}
	}
}

func TestMaxEventSize(t *testing.T) {
	cases := []struct {
		name    string
		stream  string
		want    []string
		tooBig  bool
		comment string
	}{
		{"at the limit", "data: 0123456789\n\n", []string{"0123456789"}, false, "10 bytes of data"},
		{"over the limit", "data: ok\n\ndata: 0123456789A\n\ndata: later\n\n", []string{"ok"}, true, "11 bytes"},
		{"joined lines count", "data: 01234\ndata: 56789\n\n", nil, true, "11 bytes with the LF"},
		{"skipped line over the limit", ": 0123456789\n\ndata: x\n\n", nil, true, "a 12-byte comment"},
	}
	for _, tc := range cases {
		for _, size := range []int{16, 4096} {
			r := NewReader(strings.NewReader(tc.stream), Options{BufferSize: size, MaxEventSize: 10})
			var got []string
			var err error
			for {
				var data []byte
				if data, err = r.Next(); err != nil {
					break
				}
				got = append(got, string(data))
			}
			if want := map[bool]error{true: ErrTooLarge, false: io.EOF}[tc.tooBig]; !errors.Is(err, want) || !slices.Equal(got, tc.want) {
				t.Errorf("%s (%s, buffer %d): got %q, %v; want %q, %v", tc.name, tc.comment, size, got, err, tc.want, want)
			}
			if tc.tooBig {
				if _, again := r.Next(); !errors.Is(again, ErrTooLarge) {
					t.Errorf("%s: the next call returned %v, want ErrTooLarge again", tc.name, again)
				}
			}
		}
	}
}

// An unfinished last line is looked at only when it does not fit the
// buffer: then its data counts against the limit; otherwise the stream
// just ends.
func TestUnfinishedLineOverTheLimit(t *testing.T) {
	stream := "data: " + strings.Repeat("x", 30)
	if _, err := readAll(stream, Options{BufferSize: 16, MaxEventSize: 10}, 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("buffer 16: %v, want ErrTooLarge", err)
	}
	if _, err := readAll(stream, Options{BufferSize: 64, MaxEventSize: 10}, 0); !errors.Is(err, io.EOF) {
		t.Errorf("buffer 64: %v, want io.EOF", err)
	}
}

func TestSourceErrorsPassThrough(t *testing.T) {
	boom := errors.New("connection reset")
	src := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom))
	r := NewReader(src, Options{})
	if data, err := r.Next(); err != nil || string(data) != "a" {
		t.Fatalf("first event %q, %v", data, err)
	}
	for range 2 {
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the source's error", err)
		}
	}
}

func TestReaderThatMakesNoProgress(t *testing.T) {
	r := NewReader(readerFunc(func([]byte) (int, error) { return 0, nil }), Options{})
	if _, err := r.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("got %v, want io.ErrNoProgress", err)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// The events are the caller's: reading on does not change them.
func TestEventsAreTheCallers(t *testing.T) {
	r := NewReader(strings.NewReader("data: first\n\ndata: second\n\n"), Options{BufferSize: 16})
	first, _ := r.Next()
	second, _ := r.Next()
	if string(first) != "first" || string(second) != "second" {
		t.Fatalf("%q %q", first, second)
	}
}

// referenceEvents parses a whole stream the way the WHATWG standard words
// it, step by step and without regard for speed: strip one leading BOM,
// cut the stream into lines at CRLF, LF or CR (a last line without its end
// is not a line), then process each line. With limit > 0 it also reports
// whether some line, or the data of some event (finished or not), is longer
// than limit.
func referenceEvents(stream []byte, limit int) (events []string, overLimit bool) {
	s := strings.TrimPrefix(string(stream), "\uFEFF")
	var lines []string
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			overLimit = overLimit || len(s) > limit // the unfinished last line
			break
		}
		lines = append(lines, s[:i])
		if strings.HasPrefix(s[i:], "\r\n") {
			s = s[i+2:]
		} else {
			s = s[i+1:]
		}
	}
	data := ""
	for _, line := range lines {
		if line == "" { // dispatch
			if data != "" {
				events = append(events, strings.TrimSuffix(data, "\n"))
			}
			data = ""
			continue
		}
		if strings.HasPrefix(line, ":") {
			overLimit = overLimit || len(line) > limit
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		if field == "data" {
			data += value + "\n"
			overLimit = overLimit || len(data)-1 > limit
		} else {
			overLimit = overLimit || len(line) > limit
		}
	}
	return events, overLimit
}

func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		"data: hello\n\n",
		"data: a\r\ndata: b\r\n\r\n",
		"data: a\rdata: b\r\r",
		": OPENROUTER PROCESSING\n\ndata: {\"choices\":[]}\n\ndata: [DONE]\n\n",
		"event: x\nid: 1\nretry: 5\ndata\n\ndata:  two\n\n",
		"\xEF\xBB\xBFdata: bom\n\n",
		"data: unfinished\n",
		"data: " + strings.Repeat("B", 100) + "\n\n",
	} {
		f.Add([]byte(seed), uint8(0), uint8(0), uint16(0))
	}
	f.Fuzz(func(t *testing.T, stream []byte, bufSize, readSize uint8, limit uint16) {
		opts := Options{BufferSize: minBufferSize + int(bufSize%64), MaxEventSize: len(stream) + 1}
		chunk := 1 + int(readSize%32)
		want, _ := referenceEvents(stream, opts.MaxEventSize)

		// Without a limit in the way: the reference's events, exactly.
		got, err := readAll(string(stream), opts, chunk)
		if !errors.Is(err, io.EOF) || !slices.Equal(got, want) {
			t.Fatalf("stream %q (buffer %d, reads of %d):\n got %q, %v\nwant %q", stream, opts.BufferSize, chunk, got, err, want)
		}

		// With a limit: a prefix of the reference's events, each within
		// it; ErrTooLarge only when something was over it, and every
		// event when the stream ends normally.
		opts.MaxEventSize = 1 + int(limit%256)
		_, overLimit := referenceEvents(stream, opts.MaxEventSize)
		got, err = readAll(string(stream), opts, chunk)
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("limit %d: %q is not a prefix of %q", opts.MaxEventSize, got, want)
		}
		for _, e := range got {
			if len(e) > opts.MaxEventSize {
				t.Fatalf("limit %d: an event of %d bytes", opts.MaxEventSize, len(e))
			}
		}
		switch {
		case errors.Is(err, ErrTooLarge) && !overLimit:
			t.Fatalf("limit %d: ErrTooLarge on %q, which nowhere passes it", opts.MaxEventSize, stream)
		case errors.Is(err, io.EOF) && len(got) != len(want):
			t.Fatalf("limit %d: the stream ended after %d of %d events", opts.MaxEventSize, len(got), len(want))
		case !errors.Is(err, io.EOF) && !errors.Is(err, ErrTooLarge):
			t.Fatalf("limit %d: unexpected error %v", opts.MaxEventSize, err)
		}
	})
}

// The reference parser itself, on the standard's own examples.
func TestReferenceParser(t *testing.T) {
	got, _ := referenceEvents([]byte("data: YHOO\ndata: +2\ndata: 10\n\n: test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"), 1<<20)
	want := []string{"YHOO\n+2\n10", "first event", "second event"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	got, _ = referenceEvents([]byte("data\n\ndata\ndata\n\ndata:"), 1<<20)
	if want := []string{"", "\n"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// BenchmarkReader reads chat-sized events (OpenRouter's chunk events with a
// processing comment now and then) through the 1 KiB buffer the upstream
// client uses: one allocation per event, the event's data.
func BenchmarkReader(b *testing.B) {
	var stream bytes.Buffer
	const events = 100
	for i := range events {
		if i%10 == 0 {
			stream.WriteString(": OPENROUTER PROCESSING\n\n")
		}
		fmt.Fprintf(&stream, `data: {"id":"gen-%d","object":"chat.completion.chunk","created":1,"model":"openai/gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"word %d "},"finish_reason":null}]}`+"\n\n", i, i)
	}
	src := bytes.NewReader(stream.Bytes())
	readAll := func() {
		src.Reset(stream.Bytes())
		r := NewReader(src, Options{BufferSize: 1 << 10, MaxEventSize: 32 << 20})
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
	allocs := testing.AllocsPerRun(10, readAll)
	b.SetBytes(int64(stream.Len()))
	b.ReportAllocs()
	for b.Loop() {
		readAll()
	}
	b.ReportMetric(allocs/events, "allocs/event")
}
