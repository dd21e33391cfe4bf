package httpx

import "testing"

func TestAppendEventFramesEachLine(t *testing.T) {
	cases := map[string]string{
		`{"id":"a"}`: "data: {\"id\":\"a\"}\n\n",
		"[DONE]":     "data: [DONE]\n\n",
		"one\ntwo":   "data: one\ndata: two\n\n",
		"":           "data: \n\n",
		"trailing\n": "data: trailing\ndata: \n\n",
		"\n\nmiddle": "data: \ndata: \ndata: middle\n\n",
	}
	buf := []byte("left over from the previous event")
	for data, want := range cases {
		buf = appendEvent(buf[:0], []byte(data))
		if string(buf) != want {
			t.Errorf("%q framed as %q, want %q", data, buf, want)
		}
	}
}
