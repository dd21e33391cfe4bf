package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

//go:embed templates
var templateFS embed.FS

// Renderer renders the pages: each page template joined with the one layout
// and the partials, parsed once at start-up so a broken template stops the
// server from starting instead of failing a user's request.
type Renderer struct {
	pages map[string]*template.Template
}

// NewRenderer parses every page in templates/pages.
func NewRenderer(assets *Assets) (*Renderer, error) {
	funcs := template.FuncMap{
		"asset": assets.URL,
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"add":         func(a, b int) int { return a + b },
		"usd":         usd,
		"lockoutKind": lockoutKind,
		"statusWord":  videoStatusWord,
		"device":      deviceName,
		"entry":       entry,
		"newEntry":    newEntry,
		"imageExt": func(mediaType string) string {
			switch mediaType {
			case "image/jpeg":
				return ".jpg"
			case "image/webp":
				return ".webp"
			case "image/gif":
				return ".gif"
			}
			return ".png"
		},
		"sentences":  sentences,
		"rfc3339":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"unfinished": func(status string) bool { return status == api.VideoPending || status == api.VideoInProgress },
		"mib": func(n int64) string {
			if n < 1<<20 {
				return fmt.Sprintf("%d KB", (n+1023)>>10)
			}
			return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		},
		"deref": func(v *float64) float64 {
			if v == nil {
				return 0
			}
			return *v
		},
		"percent": func(part, whole int) int {
			if whole <= 0 {
				return 0
			}
			return part * 100 / whole
		},
	}
	pages, err := fs.Glob(templateFS, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, page := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(page, "templates/pages/"), ".html")
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials/*.html", page)
		if err != nil {
			return nil, fmt.Errorf("web: parse template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// Render writes page name; data is normally a *View. The page is rendered to
// a buffer first, so a template error becomes the error page, not half a page.
func (r *Renderer) Render(w io.Writer, name string, data any, _ echo.Context) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: no page template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	_, err := buf.WriteTo(w)
	return err
}
