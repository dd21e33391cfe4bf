package openapi_test

import (
	"github.com/duckgate/duckgate/backend/internal/openapi"

	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/httpapi"
)

// docsServer mounts the handler the way the router does, behind the API's
// security headers, on a real loopback server.
func docsServer(t *testing.T) *httptest.Server {
	t.Helper()
	h, err := openapi.NewHandler(buildDoc(t), "duckgate API")
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(httpapi.RequestID(), httpapi.SecurityHeaders())
	e.GET(openapi.SpecPath, gin.WrapH(h))
	e.GET(openapi.DocsPath, gin.WrapH(h))
	e.GET(openapi.AssetsPath+"*file", gin.WrapH(h))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

// testTransport sends the tests' requests without following redirects
// (not http.DefaultTransport).
var testTransport = &http.Transport{}

func get(t *testing.T, rawURL string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := testTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, buf.Bytes()
}

var (
	scriptTag = regexp.MustCompile(`<script([^>]*)>([^<]*)</script>`)
	srcAttr   = regexp.MustCompile(`src="([^"]+)"`)
	cssLink   = regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`)
)

func TestDocsPage(t *testing.T) {
	srv := docsServer(t)
	resp, body := get(t, srv.URL+"/docs")

	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	page := string(body)
	if !strings.Contains(page, `<title>duckgate API</title>`) || !strings.Contains(page, `data-spec-url="openapi.json"`) {
		t.Errorf("page lacks its title or spec URL:\n%s", page)
	}
	scripts := scriptTag.FindAllStringSubmatch(page, -1)
	if len(scripts) != 2 {
		t.Fatalf("want the bundle and the init script, found %d script tags", len(scripts))
	}
	for _, s := range scripts {
		if strings.TrimSpace(s[2]) != "" || !srcAttr.MatchString(s[1]) {
			t.Errorf("inline script on the page: %q", s[0])
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "script-src 'self' 'unsafe") {
		t.Errorf("CSP = %q, want scripts from self only", csp)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control = %q", cc)
	}
}

func TestDocsAssetsAreServedWithLongCacheLifetimes(t *testing.T) {
	srv := docsServer(t)
	_, body := get(t, srv.URL+"/docs")
	page := string(body)

	base, _ := url.Parse(srv.URL + "/docs")
	var refs []string
	for _, s := range scriptTag.FindAllStringSubmatch(page, -1) {
		refs = append(refs, srcAttr.FindStringSubmatch(s[1])[1])
	}
	refs = append(refs, cssLink.FindStringSubmatch(page)[1])

	wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, ref := range refs {
		u, err := base.Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.Path, openapi.AssetsPath) {
			t.Errorf("asset %s is not under %s", u.Path, openapi.AssetsPath)
		}
		resp, asset := get(t, u.String())
		if resp.StatusCode != http.StatusOK || len(asset) < 100 {
			t.Fatalf("GET %s = %d, %d bytes", u.Path, resp.StatusCode, len(asset))
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("%s Cache-Control = %q", u.Path, cc)
		}
		want, ok := wantType[path.Ext(u.Path)]
		if ct := resp.Header.Get("Content-Type"); !ok || !strings.HasPrefix(ct, want) {
			t.Errorf("%s Content-Type = %q", u.Path, ct)
		}
		again, _ := get(t, u.String(), "If-None-Match", resp.Header.Get("ETag"))
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag = %d, want 304", u.Path, again.StatusCode)
		}
	}
	if !strings.Contains(page, "swagger-ui-bundle.") || !strings.Contains(page, "docs-init.") {
		t.Errorf("page does not load the bundle and the init script:\n%s", page)
	}
}

func TestDocsInitScriptConfiguresSwaggerUI(t *testing.T) {
	srv := docsServer(t)
	_, body := get(t, srv.URL+"/docs")
	var initURL string
	for _, s := range scriptTag.FindAllStringSubmatch(string(body), -1) {
		if src := srcAttr.FindStringSubmatch(s[1])[1]; strings.Contains(src, "docs-init.") {
			initURL = src
		}
	}
	_, script := get(t, srv.URL+"/"+initURL)
	for _, want := range []string{"SwaggerUIBundle(", "persistAuthorization: true", "root.dataset.specUrl"} {
		if !strings.Contains(string(script), want) {
			t.Errorf("init script lacks %q", want)
		}
	}
}

func TestSpecEndpoint(t *testing.T) {
	srv := docsServer(t)
	resp, body := get(t, srv.URL+"/openapi.json")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil || !strings.HasPrefix(doc["openapi"].(string), "3.1") {
		t.Fatalf("not the OpenAPI document: %v", err)
	}
	if again, _ := get(t, srv.URL+"/openapi.json", "If-None-Match", resp.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", again.StatusCode)
	}
	// The document validates its own endpoint's answer.
	v, err := openapi.NewValidator(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateResponse("GET", "/openapi.json", resp.StatusCode, resp.Header.Get("Content-Type"), body); err != nil {
		t.Error(err)
	}
}

func TestUnknownAssetIsAProblem(t *testing.T) {
	srv := docsServer(t)
	for _, p := range []string{"/docs/assets/swagger-ui-bundle.js", "/docs/assets/../../openapi.json.x", "/docs/assets/nope.css"} {
		resp, body := get(t, srv.URL+p)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s = %d %q %s", p, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}
