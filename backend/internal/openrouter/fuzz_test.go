package openrouter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzContentAgreesWithTheFullDecoder: message content is read through a
// fast path for plain strings; whatever the bytes, the fast path and the
// plain encoding/json reading (string, null, or an array of text parts)
// agree, and they refuse the same inputs.
func FuzzContentAgreesWithTheFullDecoder(f *testing.F) {
	for _, s := range []string{`"hello"`, `"caf\u00e9"`, `"tab\there"`, `null`, `[{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]`,
		`"\ud800"`, "\"\xff\"", `"a\"b"`, `42`, `{}`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got Content
		gotErr := got.UnmarshalJSON(data)
		want, wantErr := referenceContent(data)
		if (gotErr == nil) != (wantErr == nil) || (gotErr == nil && string(got) != want) {
			t.Fatalf("%q: fast path %q (%v), reference %q (%v)", data, got, gotErr, want, wantErr)
		}
	})
}

func referenceContent(data []byte) (string, error) {
	var s *string
	if err := json.Unmarshal(data, &s); err == nil {
		if s == nil {
			return "", nil
		}
		return *s, nil
	}
	var parts []struct{ Type, Text string }
	if err := json.Unmarshal(data, &parts); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// FuzzDecodeAnswer: whatever a 200 answer holds, decoding it yields the
// answer or an *Error whose public message never carries the API key.
func FuzzDecodeAnswer(f *testing.F) {
	const key = "sk-or-v1-SECRET"
	for _, s := range []string{`{"id":"gen-1","choices":[{"message":{"role":"assistant","content":"hi"}}]}`,
		`{"error":{"code":502,"message":"upstream said sk-or-v1-SECRET at https://x.example/y"}}`,
		`{"error":"a string"}`, `{"id":"gen-2","choices":[{"message":{"content":"trunc`, `null`, `[]`, ``} {
		f.Add([]byte(s))
	}
	c := New(Config{APIKey: key, BaseURL: "http://127.0.0.1:1/api/v1"})
	f.Fuzz(func(t *testing.T, body []byte) {
		var out chatCompletionAnswer
		err := c.decode("chat completion", body, &out)
		if err == nil {
			if !json.Valid(body) {
				t.Fatalf("%q: accepted but not JSON", body)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Message == "" {
			t.Fatalf("%q: %T %v, want an *Error with a message", body, err, err)
		}
		if strings.Contains(e.Message, key) {
			t.Fatalf("%q: the API key reached the public message %q", body, e.Message)
		}
	})
}
