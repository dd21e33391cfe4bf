package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// Who visits a page.
const (
	anonymous = "anonymous"
	ordinary  = "user"
	admin     = "admin"
)

// everyPage is every page a person can reach, by who sees it. The checks
// that hold for all pages (no sideways scroll at 360 px, the page weight)
// go through this one list: a new page is added here. "{conversation}"
// stands for a conversation of the user's with messages in it.
var everyPage = []struct{ who, path string }{
	{anonymous, "/"},
	{anonymous, "/login"},
	{anonymous, "/register"},
	{anonymous, "/forgot"},
	{anonymous, "/reset?token=rst_no-such-token"},
	{anonymous, "/no-such-page"},
	{ordinary, "/"},
	{ordinary, "/chat"},
	{ordinary, "/chat?c={conversation}"},
	{ordinary, "/chat?q=pond"},
	{ordinary, "/images"},
	{ordinary, "/videos"},
	{ordinary, "/usage"},
	{ordinary, "/profile"},
	{ordinary, "/admin"}, // the message page: only for administrators
	{admin, "/admin"},
	{admin, "/admin/users"},
	{admin, "/admin/audit"},
	{admin, "/chat"},
	{admin, "/profile"},
}

// pageBudget is the most a page may load: its HTML, CSS, scripts and
// images, uncompressed.
const pageBudget = 250 << 10

// TestBrowserEveryPageFitsAPhoneAndItsBudget visits every page of
// everyPage, with content in it (a conversation with long words, an image,
// a video, several sessions and audit entries): at 360 px wide none scrolls
// sideways, and none loads more than 250 KB.
func TestBrowserEveryPageFitsAPhoneAndItsBudget(t *testing.T) {
	fake := StartFake(t, "FAKE_OPENROUTER_CHUNK_DELAY=1ms", "FAKE_OPENROUTER_VIDEO_POLLS=1")
	backend := StartBackend(t, t.TempDir(), "OPENROUTER_BASE_URL="+fake.FakeBaseURL(), "OPENROUTER_API_KEY="+FakeKey)
	frontend := StartFrontend(t, backend.URL)
	requireGateway(t, backend.URL)

	// A user with something on every page, and a long email address.
	email := fmt.Sprintf("a-rather-long-name-for-a-duck-%d@subdomain.example.com", time.Now().UnixNano())
	const password = "narrow-screen-1"
	register(t, backend.URL, email, password)
	ctx := context.Background()
	user := signIn(t, client.New(backend.URL), email, password)
	_ = signIn(t, client.New(backend.URL), email, password) // a second session for the list of devices
	conv, err := user.CreateConversation(ctx, api.NewConversationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	long := "Supercalifragilisticexpialidocious" + strings.Repeat("quack", 30) + " and a pond\n\n    indented code " + strings.Repeat("x", 200)
	drain(t, func() (*client.ChatStream, error) {
		return user.SendMessage(ctx, conv.ID, api.SendMessageRequest{Content: long})
	})
	if _, err := user.GenerateImage(ctx, api.ImageRequest{Prompt: "a duck " + strings.Repeat("very", 40) + " far away"}); err != nil {
		t.Fatal(err)
	}
	if _, err := user.GenerateVideo(ctx, api.VideoRequest{Prompt: "a duck " + strings.Repeat("swimming", 30)}); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, frontend.URL)
	signInAs := func(who string) {
		b.t.Helper()
		b.open("/")
		if b.path() != "/" || evaluate[bool](b, `!!document.querySelector("#sign-out")`) {
			b.submit("sign out", nil, "#sign-out")
		}
		switch who {
		case ordinary:
			b.open("/login")
			b.submit("sign in", map[string]string{"#email": email, "#password": password}, `main button[type=submit]`)
		case admin:
			b.open("/login")
			b.submit("admin sign in", map[string]string{"#email": AdminEmail, "#password": AdminPassword}, `main button[type=submit]`)
		}
	}

	current := ""
	for _, page := range everyPage {
		path := strings.ReplaceAll(page.path, "{conversation}", conv.ID)
		t.Run(page.who+" "+page.path, func(t *testing.T) {
			b.t = t
			if page.who != current {
				signInAs(page.who)
				current = page.who
			}

			// The page's weight, at a desktop's width, everything loaded.
			b.do("desktop", 5*time.Second, chromedp.EmulateViewport(1280, 900))
			b.open(path)
			b.waitFor("loaded", `document.readyState === "complete"`, 10*time.Second)
			time.Sleep(300 * time.Millisecond) // lazy images start once laid out
			weight := evaluate[struct {
				Total int      `json:"total"`
				Parts []string `json:"parts"`
			}](b, `(() => {
				const nav = performance.getEntriesByType("navigation")[0];
				let total = nav.decodedBodySize, parts = ["html " + nav.decodedBodySize];
				for (const r of performance.getEntriesByType("resource")) {
					if (r.initiatorType === "video" || r.initiatorType === "audio") continue;
					total += r.decodedBodySize;
					parts.push(new URL(r.name).pathname + " " + r.decodedBodySize);
				}
				return {total, parts};
			})()`)
			t.Logf("%s (%s): %d bytes: %s", path, page.who, weight.Total, strings.Join(weight.Parts, ", "))
			if weight.Total > pageBudget {
				b.fail("page weight", fmt.Errorf("%s loads %d bytes, over %d: %s", path, weight.Total, pageBudget, strings.Join(weight.Parts, ", ")))
			}

			// At 360 px nothing scrolls sideways.
			b.do("phone", 5*time.Second, chromedp.EmulateViewport(360, 740))
			b.open(path)
			b.waitFor("loaded", `document.readyState === "complete"`, 10*time.Second)
			if !evaluate[bool](b, `document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth`) {
				wide := evaluate[[]string](b, `[...document.querySelectorAll("body *")]
					.filter(e => e.getBoundingClientRect().right > document.scrollingElement.clientWidth + 1)
					.slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "") + " " + Math.round(e.getBoundingClientRect().right))`)
				b.fail("360 px", fmt.Errorf("%s scrolls sideways (%d > %d): %v", path,
					evaluate[int](b, `document.scrollingElement.scrollWidth`), evaluate[int](b, `document.scrollingElement.clientWidth`), wide))
			}
		})
	}
	b.do("desktop", 5*time.Second, chromedp.EmulateViewport(1280, 900))
}

// TestBrowserDarkModeFollowsTheSystemUntilChosen: with no choice made the
// page follows the system's colour scheme; the toggle chooses the other
// one, which a reload keeps (a display preference, the only thing the app
// keeps in the browser's storage).
func TestBrowserDarkModeFollowsTheSystemUntilChosen(t *testing.T) {
	backend := StartBackend(t, t.TempDir())
	frontend := StartFrontend(t, backend.URL)
	b := newBrowser(t, frontend.URL)
	background := func() string {
		b.t.Helper()
		return evaluate[string](b, `getComputedStyle(document.body).backgroundColor`)
	}
	const light, dark = "rgb(247, 247, 245)", "rgb(18, 18, 20)"
	scheme := func(value string) {
		b.t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: value}}})
		if err != nil {
			b.fail("system "+value, err)
		}
	}

	scheme("dark")
	b.open("/login")
	if got := background(); got != dark {
		b.fail("follows the system", fmt.Errorf("background %s under a dark system, want %s", got, dark))
	}
	if got := b.text("#theme-toggle"); got != "Light mode" {
		b.fail("toggle label", fmt.Errorf("the toggle says %q", got))
	}
	b.do("choose light", 5*time.Second, chromedp.Click(css("#theme-toggle")))
	if got := background(); got != light {
		b.fail("toggle", fmt.Errorf("background %s after choosing light, want %s", got, light))
	}
	b.open("/login")
	if got := background(); got != light {
		b.fail("remembered", fmt.Errorf("background %s after a reload, want the chosen light %s", got, light))
	}
	b.do("choose dark again", 5*time.Second, chromedp.Click(css("#theme-toggle")))
	if got := background(); got != dark {
		b.fail("back to dark", fmt.Errorf("background %s", got))
	}
	// Choosing what the system says is following the system again.
	scheme("light")
	b.open("/login")
	if got := background(); got != light {
		b.fail("follows the system again", fmt.Errorf("background %s under a light system, want %s", got, light))
	}

	// The choice is the browser's, not the account's: it outlives a
	// sign-out, which clears everything else.
	email := fmt.Sprintf("night-owl-%d@example.com", time.Now().UnixNano())
	register(t, backend.URL, email, "night-owl-pass-1")
	b.submit("sign in", map[string]string{"#email": email, "#password": "night-owl-pass-1"}, `main button[type=submit]`)
	b.do("choose dark", 5*time.Second, chromedp.Click(css("#theme-toggle")))
	b.submit("sign out", nil, "#sign-out")
	if got := background(); got != dark {
		b.fail("after sign-out", fmt.Errorf("background %s, want the chosen dark %s", got, dark))
	}
	if s := evaluate[string](b, `JSON.stringify({local: {...localStorage}, session: {...sessionStorage}, cookie: document.cookie})`); s != `{"local":{"duckgate.theme":"dark"},"session":{},"cookie":""}` {
		b.fail("storage after sign-out", fmt.Errorf("the browser keeps %s", s))
	}
}
