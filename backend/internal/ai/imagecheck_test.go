package ai

import (
	"encoding/base64"
	"strings"
	"testing"
)

func dataURL(mediaType string, data []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(data)
}

func TestCheckImageURLJudgesTheBytes(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	jpeg := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'}
	webp := []byte("RIFF\x24\x00\x00\x00WEBPVP8 ")
	const limit = 64
	for _, tc := range []struct {
		name, url, wantIn string // wantIn "" means accepted
	}{
		{"https", "https://example.com/duck.png", ""},
		{"png", dataURL("image/png", png), ""},
		{"jpeg", dataURL("image/jpeg", jpeg), ""},
		{"webp", dataURL("image/webp", webp), ""},
		{"upper-case type", dataURL("IMAGE/PNG", png), ""},
		{"empty", "", "required"},
		{"http", "http://example.com/duck.png", "https URL or a data: URL"},
		{"file", "file:///etc/passwd", "https URL or a data: URL"},
		{"https with credentials", "https://user:pw@example.com/a.png", "not a valid https URL"},
		{"gif declared", dataURL("image/gif", []byte("GIF89a")), "allowed types"},
		{"svg declared", dataURL("image/svg+xml", []byte("<svg/>")), "allowed types"},
		{"not base64 encoded", "data:image/png," + string(png), "base64 data: URL"},
		{"broken base64", "data:image/png;base64,***", "not valid base64"},
		{"png declared, gif held", dataURL("image/png", []byte("GIF89a......")), "does not hold"},
		{"png declared, jpeg held", dataURL("image/png", jpeg), "holds image/jpeg"},
		{"riff but not webp", dataURL("image/webp", []byte("RIFF\x24\x00\x00\x00WAVEfmt ")), "does not hold"},
		{"too big", dataURL("image/png", append(png, make([]byte, limit)...)), "more than the 64 bytes"},
		{"no comma", "data:image/png;base64", "not a valid data: URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkImageURL(tc.url, limit)
			if tc.wantIn == "" && got != "" {
				t.Fatalf("refused: %s", got)
			}
			if tc.wantIn != "" && !strings.Contains(got, tc.wantIn) {
				t.Fatalf("got %q, want a problem mentioning %q", got, tc.wantIn)
			}
		})
	}
}
