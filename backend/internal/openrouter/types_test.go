package openrouter_test

import (
	"encoding/json"
	"testing"

	"github.com/duckgate/duckgate/backend/internal/openrouter"
)

// Content reads a JSON string exactly as encoding/json reads it into a
// string, whether or not it needs unescaping; null and text parts too.
func TestContentDecodesLikeAString(t *testing.T) {
	for _, raw := range []string{`""`, `"bench bench"`, `"line\nbreak \"quoted\" \u00e9"`, `"héllo 🦆"`,
		"\"bad \xff utf-8\"", `"tab\there"`, `"slash \/ and \\"`} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var got openrouter.Content
		if err := json.Unmarshal([]byte(raw), &got); err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v; want %q", raw, got, err, want)
		}
	}
	var parts openrouter.Content = "stale"
	if err := json.Unmarshal([]byte(`[{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]`), &parts); err != nil || parts != "ab" {
		t.Errorf("parts: %q, %v", parts, err)
	}
	var null openrouter.Content = "stale"
	if err := json.Unmarshal([]byte(`null`), &null); err != nil || null != "" {
		t.Errorf("null: %q, %v", null, err)
	}
	if err := json.Unmarshal([]byte(`5`), &null); err == nil {
		t.Error("a number is not content")
	}
}
