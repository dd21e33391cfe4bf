package ai

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// Image formats a video may start from, by media type.
var imageMediaTypes = []string{"image/png", "image/jpeg", "image/webp"}

// checkImageURL accepts an https URL, or a data: URL of a PNG, JPEG or WebP
// image whose decoded bytes are at most maxBytes and really are the declared
// format (judged by the magic bytes, not the declared type). It returns the
// problem to show in the image_url field, or "".
func checkImageURL(raw string, maxBytes int) string {
	switch {
	case raw == "":
		return "is required: an https URL or a data: URL of a PNG, JPEG or WebP image"
	case strings.HasPrefix(strings.ToLower(raw), "https://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.User != nil {
			return "is not a valid https URL"
		}
		return ""
	case strings.HasPrefix(strings.ToLower(raw), "data:"):
		return checkDataImage(raw, maxBytes)
	}
	return "must be an https URL or a data: URL (other schemes are refused)"
}

func checkDataImage(raw string, maxBytes int) string {
	header, payload, ok := strings.Cut(raw[len("data:"):], ",")
	if !ok {
		return "is not a valid data: URL"
	}
	mediaType, encoding, _ := strings.Cut(header, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	if !strings.EqualFold(strings.TrimSpace(encoding), "base64") {
		return "must be a base64 data: URL (data:image/png;base64,...)"
	}
	if !isImageMediaType(mediaType) {
		return fmt.Sprintf("declares %q; allowed types: %s", mediaType, strings.Join(imageMediaTypes, ", "))
	}
	if base64.StdEncoding.DecodedLen(len(payload)) > maxBytes+3 {
		return fmt.Sprintf("holds more than the %d bytes an image may have", maxBytes)
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return "is not valid base64"
	}
	if len(data) > maxBytes {
		return fmt.Sprintf("holds more than the %d bytes an image may have", maxBytes)
	}
	if sniffed := sniffImage(data); sniffed != mediaType {
		if sniffed == "" {
			return "does not hold a PNG, JPEG or WebP image"
		}
		return fmt.Sprintf("declares %s but holds %s", mediaType, sniffed)
	}
	return ""
}

func isImageMediaType(t string) bool {
	for _, allowed := range imageMediaTypes {
		if t == allowed {
			return true
		}
	}
	return false
}

// sniffImage names the format of data from its magic bytes ("" for none of
// PNG, JPEG, WebP).
func sniffImage(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case len(data) >= 12 && bytes.Equal(data[:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WEBP")):
		return "image/webp"
	}
	return ""
}
