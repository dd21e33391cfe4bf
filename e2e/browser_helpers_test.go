package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium; `make test` installs it in CI.
const chromiumPath = "/usr/bin/chromium"

// browser drives one headless chromium with a fresh profile.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the frontend's URL
}

// step is one browser action that returns nothing.
type step = chromedp.Action[chromedp.Void]

// newBrowser starts chromium for t. Without chromium the test is skipped
// locally and fails in CI, where it must be installed.
func newBrowser(t *testing.T, baseURL string) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing; install it with apt-get install -y chromium", chromiumPath)
		}
		t.Skipf("%s is missing (apt-get update && apt-get install -y chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })

	if err := chromedp.Do(ctx); err != nil { // starts the browser and its tab
		t.Fatalf("start chromium: %v", err)
	}
	// Confirmation dialogs (delete, purge) are accepted, as a person would.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return &browser{t: t, ctx: ctx, base: baseURL}
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// do runs steps within a deadline; on failure it saves a screenshot and the
// page's HTML as artefacts and stops the test.
func (b *browser) do(name string, timeout time.Duration, steps ...step) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(name, err)
	}
}

// fail saves the artefacts of a failed step and ends the test.
func (b *browser) fail(name string, err error) {
	b.t.Helper()
	dir := b.saveArtifacts(name)
	b.t.Fatalf("step %q failed: %v (screenshot and HTML in %s)", name, err, dir)
}

func (b *browser) saveArtifacts(name string) string {
	root := os.Getenv("ARTIFACTS_DIR")
	if root == "" {
		root = filepath.Join(RepoRoot(), "testartifacts")
	}
	clean := regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
	dir := filepath.Join(root, clean.ReplaceAllString(b.t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("artefacts: %v", err)
		return dir
	}
	base := filepath.Join(dir, clean.ReplaceAllString(name, "_"))
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	// Quality 100 makes chromium encode a PNG; anything less is a JPEG.
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(base+".png", png, 0o644)
	} else {
		b.t.Logf("artefacts: screenshot: %v", err)
	}
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML(css("html"))); err == nil {
		_ = os.WriteFile(base+".html", []byte("<!-- "+url+" -->\n"+html), 0o644)
	} else {
		b.t.Logf("artefacts: html: %v", err)
	}
	return dir
}

// evaluate runs a JavaScript expression and decodes its value.
func evaluate[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluate "+expr, err)
	}
	return v
}

// waitFor polls a JavaScript expression until it is true.
func (b *browser) waitFor(name, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s stayed false for %s", expr, timeout)
			}
			b.fail(name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// open navigates to a path of the frontend and waits for the page.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, 15*time.Second, chromedp.Navigate(b.base+path), chromedp.WaitReady(css("body")))
}

// path is the current URL's path and query.
func (b *browser) path() string {
	b.t.Helper()
	return strings.TrimPrefix(evaluate[string](b, `location.href`), b.base)
}

// text returns the visible text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
	if err != nil {
		b.fail("text of "+sel, err)
	}
	return strings.TrimSpace(s)
}

// submit fills fields (selector → value), clicks the button and waits until
// the next page has replaced this one.
func (b *browser) submit(name string, fields map[string]string, button string) {
	b.t.Helper()
	b.eval(`window.__before_submit = true`)
	var steps []step
	for sel, v := range fields {
		steps = append(steps, chromedp.SetValue(css(sel), v))
	}
	steps = append(steps, chromedp.Click(css(button)))
	b.do(name, 15*time.Second, steps...)
	b.waitFor(name+": next page", `!window.__before_submit && document.readyState !== "loading"`, 15*time.Second)
}

// eval runs a JavaScript statement for its effect.
func (b *browser) eval(expr string) {
	b.t.Helper()
	evaluate[any](b, `(() => { `+expr+`; return null })()`)
}

// sessionCookies returns the values of the frontend's session cookies as the
// browser stores them (HttpOnly included), through the DevTools protocol.
func (b *browser) sessionCookies(where string) map[string]string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base}})
	if err != nil {
		b.fail(where+": read cookies", err)
	}
	out := map[string]string{}
	for _, c := range res.Cookies {
		if strings.Contains(c.Name, "dg_access") || strings.Contains(c.Name, "dg_refresh") {
			if !c.HTTPOnly {
				b.fail(where, fmt.Errorf("cookie %s is readable by scripts", c.Name))
			}
			out[c.Name] = c.Value
		}
	}
	return out
}

// assertNoTokenVisible checks that no token value is in the page's HTML, in
// document.cookie or in the page's storage.
func (b *browser) assertNoTokenVisible(where string) {
	b.t.Helper()
	tokens := b.sessionCookies(where)
	if len(tokens) != 2 {
		b.fail(where, fmt.Errorf("want the access and refresh cookies, have %d session cookies", len(tokens)))
	}
	html := evaluate[string](b, `document.documentElement.outerHTML`)
	jsCookies := evaluate[string](b, `document.cookie`)
	storage := evaluate[string](b, `JSON.stringify({local: {...localStorage}, session: {...sessionStorage}})`)
	for name, cookie := range tokens {
		_, value, _ := strings.Cut(cookie, "~") // the token, after the session's binding
		if len(value) < 16 {
			b.fail(where, fmt.Errorf("cookie %s holds no real token (%d chars)", name, len(value)))
		}
		for what, s := range map[string]string{"the page HTML": html, "document.cookie": jsCookies, "the page's storage": storage} {
			if strings.Contains(s, value) {
				b.fail(where, fmt.Errorf("the %s token appears in %s", name, what))
			}
		}
		if strings.Contains(jsCookies, name) {
			b.fail(where, fmt.Errorf("document.cookie shows %s", name))
		}
	}
}
