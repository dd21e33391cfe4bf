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

	// Confirmation dialogs (delete, purge) are accepted, as a person would.
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go func() { _ = chromedp.Run(ctx, page.HandleJavaScriptDialog(true)) }()
		}
	})
	if err := chromedp.Run(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: baseURL}
}

// step runs actions within a deadline; on failure it saves a screenshot and
// the page's HTML as artefacts and stops the test.
func (b *browser) step(name string, timeout time.Duration, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
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
	var png []byte
	var html, url string
	if err := chromedp.Run(ctx, chromedp.Location(&url), chromedp.FullScreenshot(&png, 80),
		chromedp.OuterHTML("html", &html, chromedp.ByQuery)); err != nil {
		b.t.Logf("artefacts: %v", err)
	}
	_ = os.WriteFile(base+".png", png, 0o644)
	_ = os.WriteFile(base+".html", []byte("<!-- "+url+" -->\n"+html), 0o644)
	return dir
}

// waitFor polls a JavaScript expression until it is true.
func (b *browser) waitFor(name, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(expr, &ok))
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

// eval evaluates a JavaScript expression into out.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	b.step("eval "+expr, 10*time.Second, chromedp.Evaluate(expr, out))
}

// open navigates to a path of the frontend and waits for the page.
func (b *browser) open(path string) {
	b.t.Helper()
	b.step("open "+path, 15*time.Second, chromedp.Navigate(b.base+path), chromedp.WaitReady("body", chromedp.ByQuery))
}

// path is the current URL's path and query.
func (b *browser) path() string {
	var loc string
	b.step("location", 5*time.Second, chromedp.Location(&loc))
	return strings.TrimPrefix(loc, b.base)
}

// text returns the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.step("text of "+sel, 10*time.Second, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// submit fills fields (selector → value) and clicks the button, then waits
// for the next page.
func (b *browser) submit(name string, fields map[string]string, button string) {
	b.t.Helper()
	var actions []chromedp.Action
	for sel, v := range fields {
		actions = append(actions, chromedp.SetValue(sel, v, chromedp.ByQuery))
	}
	actions = append(actions, chromedp.Click(button, chromedp.ByQuery), chromedp.Sleep(100*time.Millisecond),
		chromedp.WaitReady("body", chromedp.ByQuery))
	b.step(name, 15*time.Second, actions...)
}

// sessionCookies returns the values of the frontend's session cookies as the
// browser stores them (HttpOnly included), through the DevTools protocol.
func (b *browser) sessionCookies() map[string]string {
	b.t.Helper()
	out := map[string]string{}
	b.step("read cookies", 5*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		cookies, err := network.GetCookies().WithURLs([]string{b.base}).Do(ctx)
		if err != nil {
			return err
		}
		for _, c := range cookies {
			if strings.Contains(c.Name, "dg_access") || strings.Contains(c.Name, "dg_refresh") {
				if !c.HTTPOnly {
					return fmt.Errorf("cookie %s is readable by scripts", c.Name)
				}
				out[c.Name] = c.Value
			}
		}
		return nil
	}))
	return out
}

// assertNoTokenVisible checks that no token value is in the page's HTML, in
// document.cookie or in localStorage.
func (b *browser) assertNoTokenVisible(where string) {
	b.t.Helper()
	tokens := b.sessionCookies()
	if len(tokens) == 0 {
		b.fail(where, fmt.Errorf("no session cookies: not signed in?"))
	}
	var html, jsCookies, storage string
	b.step("read page "+where, 10*time.Second,
		chromedp.OuterHTML("html", &html, chromedp.ByQuery),
		chromedp.Evaluate(`document.cookie`, &jsCookies),
		chromedp.Evaluate(`JSON.stringify(localStorage)`, &storage))
	for name, value := range tokens {
		if len(value) < 16 {
			b.fail(where, fmt.Errorf("cookie %s holds no real token (%d chars)", name, len(value)))
		}
		for what, s := range map[string]string{"HTML": html, "document.cookie": jsCookies, "localStorage": storage} {
			if strings.Contains(s, value) {
				b.fail(where, fmt.Errorf("the %s token appears in %s", name, what))
			}
		}
		if strings.Contains(jsCookies, name) {
			b.fail(where, fmt.Errorf("document.cookie shows %s", name))
		}
	}
}
