package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// Every page's HTML, CSS and JS together must stay under 250 KB before
// compression; the heavy Markdown libraries load on the chat page only.
func TestPageWeightBudget(t *testing.T) {
	assets, err := LoadAssets()
	if err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`asset "([^"]+)"`)
	layout, _ := fs.ReadFile(templateFS, "templates/layout.html")
	pages, _ := fs.Glob(templateFS, "templates/pages/*.html")
	const budget = 250_000
	const htmlAllowance = 40_000 // generous room for the rendered HTML itself
	for _, page := range pages {
		src, _ := fs.ReadFile(templateFS, page)
		total := htmlAllowance
		for _, m := range ref.FindAllStringSubmatch(string(layout)+string(src), -1) {
			total += assets.Size(m[1])
		}
		if total > budget {
			t.Errorf("%s weighs about %d bytes, budget %d", page, total, budget)
		}
		if !strings.HasSuffix(page, "chat.html") && strings.Contains(string(src), "vendor/") {
			t.Errorf("%s loads a vendored library; only the chat page should", page)
		}
	}
}

func TestAssetsAreServedUnderHashedURLsWithLongCaching(t *testing.T) {
	assets, err := LoadAssets()
	if err != nil {
		t.Fatal(err)
	}
	u, err := assets.URL("css/app.css")
	if err != nil || !regexp.MustCompile(`^/static/css/app\.[0-9a-f]{10}\.css$`).MatchString(u) {
		t.Fatalf("URL = %q, %v", u, err)
	}
	e := echo.New()
	for _, enc := range []string{"", "gzip"} {
		req := httptest.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Accept-Encoding", enc)
		rec := httptest.NewRecorder()
		if err := assets.serve(e.NewContext(req, rec)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") || rec.Header().Get("Content-Encoding") != enc {
			t.Errorf("encoding %q: headers %v", enc, rec.Header())
		}
	}
	if _, err := assets.URL("css/nope.css"); err == nil {
		t.Error("unknown asset name must be an error")
	}
	// Scripts beside the vendored files are not served.
	if _, err := assets.URL("vendor/refresh.sh"); err == nil {
		t.Error("refresh.sh must not be served")
	}
}
