package ai

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckImageURL: an accepted image_url is either an https URL with a
// host and no credentials, or a base64 data: URL of at most the limit
// whose bytes really are the PNG, JPEG or WebP it declares.
func FuzzCheckImageURL(f *testing.F) {
	png := "\x89PNG\r\n\x1a\n" + "rest"
	for _, s := range []string{
		"https://example.com/a.png", "https://user:pw@example.com/a.png", "http://example.com/a.png", "https:///x",
		"data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte(png)),
		"data:image/jpeg;base64," + base64.StdEncoding.EncodeToString([]byte(png)),
		"DATA:IMAGE/PNG;BASE64," + base64.StdEncoding.EncodeToString([]byte(png)),
		"data:image/png," + png, "javascript:alert(1)", "",
	} {
		f.Add(s)
	}
	const limit = 64
	f.Fuzz(func(t *testing.T, raw string) {
		if checkImageURL(raw, limit) != "" {
			return
		}
		lower := strings.ToLower(raw)
		switch {
		case strings.HasPrefix(lower, "https://"):
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" || u.User != nil {
				t.Fatalf("accepted %q: not an https URL with a host and no credentials", raw)
			}
		case strings.HasPrefix(lower, "data:"):
			header, payload, _ := strings.Cut(raw[len("data:"):], ",")
			mediaType, _, _ := strings.Cut(header, ";")
			data, err := base64.StdEncoding.DecodeString(payload)
			if err != nil || len(data) > limit || sniffImage(data) != strings.ToLower(strings.TrimSpace(mediaType)) {
				t.Fatalf("accepted %q: not a base64 image of the declared type within %d bytes", raw, limit)
			}
		default:
			t.Fatalf("accepted %q: neither https nor data:", raw)
		}
	})
}
