package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

//go:embed static
var staticFS embed.FS

// servedExtensions are the static files browsers get; scripts, licences and
// version notes beside them stay in the repository only.
var servedExtensions = map[string]bool{".css": true, ".js": true, ".svg": true, ".png": true, ".ico": true, ".webmanifest": true}

// asset is one embedded file, kept in memory raw and gzipped.
type asset struct {
	contentType string
	raw, gz     []byte
}

// Assets serves the embedded static files under content-hash URLs
// (/static/css/app.1a2b3c4d5e.css), so browsers may cache them for a year:
// a changed file gets a new URL.
type Assets struct {
	urls  map[string]string // logical name (css/app.css) → hashed URL
	files map[string]*asset // hashed URL → content
}

// LoadAssets reads, hashes and compresses every embedded static file once.
func LoadAssets() (*Assets, error) {
	a := &Assets{urls: map[string]string{}, files: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !servedExtensions[path.Ext(p)] {
			return err
		}
		raw, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(raw)
		name := strings.TrimPrefix(p, "static/")
		ext := path.Ext(name)
		url := "/static/" + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:5]) + ext
		gz, err := gzipBytes(raw)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.urls[name] = url
		a.files[url] = &asset{contentType: ct, raw: raw, gz: gz}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: load assets: %w", err)
	}
	return a, nil
}

// URL returns the hashed URL of a static file; templates call it as
// {{asset "css/app.css"}}. An unknown name is a template bug, caught when the
// page renders in tests.
func (a *Assets) URL(name string) (string, error) {
	u, ok := a.urls[name]
	if !ok {
		return "", fmt.Errorf("web: no static asset %q", name)
	}
	return u, nil
}

// Size returns the uncompressed size of a static file (for page budgets).
func (a *Assets) Size(name string) int {
	if f := a.files[a.urls[name]]; f != nil {
		return len(f.raw)
	}
	return 0
}

func (a *Assets) serve(c echo.Context) error {
	f, ok := a.files[c.Request().URL.Path]
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Add("Vary", "Accept-Encoding")
	body := f.raw
	if f.gz != nil && strings.Contains(c.Request().Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	return c.Blob(http.StatusOK, f.contentType, body)
}

func gzipBytes(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
