package openapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// Routes the docs handler answers; the router mounts the handler on each.
const (
	SpecPath   = "/openapi.json"
	DocsPath   = "/docs"
	AssetsPath = "/docs/assets/" // followed by a content-hashed file name
)

// docsCSP lets the page load only its own scripts and styles. Swagger UI sets
// style attributes and draws icons from data: URLs; it never needs inline or
// evaluated scripts.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed assets/docs.html assets/docs-init.js assets/swagger-ui/swagger-ui-bundle.js assets/swagger-ui/swagger-ui.css
var assetFS embed.FS

// Handler serves the OpenAPI document (GET /openapi.json), the docs page
// (GET /docs) and the page's assets (GET /docs/assets/NAME.HASH.EXT). Asset
// names carry a hash of their content, so they are cached for a year and a
// new version gets a new URL.
type Handler struct {
	spec   file
	page   file
	assets map[string]file // by hashed name
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

func newFile(body []byte, contentType string) file {
	sum := sha256.Sum256(body)
	return file{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// NewHandler prepares the docs for the document doc (as Build returns it).
func NewHandler(doc []byte, title string) (*Handler, error) {
	if !json.Valid(doc) {
		return nil, fmt.Errorf("openapi: the document is not valid JSON")
	}
	h := &Handler{spec: newFile(doc, "application/json"), assets: map[string]file{}}
	urls := map[string]string{}
	for _, name := range []string{"swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "docs-init.js"} {
		hashed, err := h.addAsset(name)
		if err != nil {
			return nil, err
		}
		// Relative to /docs, so the page also works behind a path prefix.
		urls[name] = strings.TrimPrefix(DocsPath, "/") + "/assets/" + hashed
	}
	page, err := renderPage(title, urls)
	if err != nil {
		return nil, err
	}
	h.page = newFile(page, "text/html; charset=utf-8")
	return h, nil
}

// addAsset registers an embedded file under name.HASH.ext and returns that name.
func (h *Handler) addAsset(name string) (string, error) {
	body, err := fs.ReadFile(assetFS, "assets/"+name)
	if err != nil {
		return "", fmt.Errorf("openapi: read embedded asset: %w", err)
	}
	f := newFile(body, contentTypeOf(name))
	base := path.Base(name)
	ext := path.Ext(base)
	hashed := strings.TrimSuffix(base, ext) + "." + strings.Trim(f.etag, `"`)[:16] + ext
	h.assets[hashed] = f
	return hashed, nil
}

func contentTypeOf(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return "application/octet-stream"
}

func renderPage(title string, urls map[string]string) ([]byte, error) {
	raw, err := fs.ReadFile(assetFS, "assets/docs.html")
	if err != nil {
		return nil, fmt.Errorf("openapi: read page template: %w", err)
	}
	tmpl, err := template.New("docs").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("openapi: parse page template: %w", err)
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]string{
		"Title":   title,
		"CSS":     urls["swagger-ui/swagger-ui.css"],
		"Bundle":  urls["swagger-ui/swagger-ui-bundle.js"],
		"Init":    urls["docs-init.js"],
		"SpecURL": strings.TrimPrefix(SpecPath, "/"),
	})
	if err != nil {
		return nil, fmt.Errorf("openapi: render page: %w", err)
	}
	return buf.Bytes(), nil
}

// ServeHTTP answers the three kinds of docs requests by path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == SpecPath:
		w.Header().Set("Cache-Control", "no-cache") // revalidate: the ETag changes with each release
		serve(w, r, h.spec)
	case p == DocsPath:
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", docsCSP)
		serve(w, r, h.page)
	case strings.HasPrefix(p, AssetsPath):
		f, ok := h.assets[strings.TrimPrefix(p, AssetsPath)]
		if !ok {
			notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		serve(w, r, f)
	default:
		notFound(w, r)
	}
}

// serve writes f with its ETag; http.ServeContent answers If-None-Match
// with 304 and HEAD without a body.
func serve(w http.ResponseWriter, r *http.Request, f file) {
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("ETag", f.etag)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	body, _ := json.Marshal(api.Problem{Type: api.TypeNotFound, Title: http.StatusText(http.StatusNotFound),
		Status: http.StatusNotFound, Detail: "no such resource", RequestID: w.Header().Get("X-Request-ID")})
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(body)
}
