package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWorkspace: what a person makes is kept on the server and comes
// back. Two conversations outlive a reload and a new sign-in; search finds
// one; a conversation is renamed, edited from its first message,
// regenerated with another model, stopped (and kept, marked cut short)
// and deleted; an image outlives a reload and is deleted; a video started
// before a reload finishes after it, and plays.
func TestBrowserWorkspace(t *testing.T) {
	fake := StartFake(t, "FAKE_OPENROUTER_CHUNK_DELAY=30ms", "FAKE_OPENROUTER_VIDEO_AFTER=6s")
	backend := StartBackend(t, t.TempDir(), "OPENROUTER_BASE_URL="+fake.FakeBaseURL(), "OPENROUTER_API_KEY="+FakeKey)
	frontend := StartFrontend(t, backend.URL)
	requireGateway(t, backend.URL)

	email := fmt.Sprintf("heron-%d@example.com", time.Now().UnixNano())
	const password = "wading-bird-1"
	register(t, backend.URL, email, password)
	b := newBrowser(t, frontend.URL)

	signIn := func() {
		b.t.Helper()
		b.open("/login")
		b.submit("sign in", map[string]string{"#email": email, "#password": password}, `main button[type=submit]`)
	}
	send := func(text string) {
		b.t.Helper()
		b.waitFor("chat ready", `!document.querySelector("#chat-send").disabled`, 10*time.Second)
		b.do("send "+text[:min(len(text), 20)], 10*time.Second, chromedp.SetValue(css("#chat-input"), text), chromedp.Click(css("#chat-send")))
	}
	settled := func(what string, answers int) {
		b.t.Helper()
		b.waitFor(what, fmt.Sprintf(`document.querySelectorAll("#messages li.msg-assistant").length === %d &&
			!document.querySelector("li.msg-assistant[data-streaming]") && !document.querySelector("#chat-send").disabled &&
			document.querySelector("#chat").getAttribute("aria-busy") !== "true"`, answers), 30*time.Second)
	}
	listed := func() int {
		b.t.Helper()
		return evaluate[int](b, `document.querySelectorAll("#conversations li[data-id]").length`)
	}
	idOf := func(path string) string {
		b.t.Helper()
		m := regexp.MustCompile(`^/chat\?c=([0-9a-f-]+)$`).FindStringSubmatch(path)
		if m == nil {
			b.fail("conversation address", fmt.Errorf("at %q, want /chat?c=<id>", path))
		}
		return m[1]
	}
	menu := func(id string) string {
		b.t.Helper()
		sel := fmt.Sprintf(`#conversations li[data-id=%q]`, id)
		b.do("open the menu", 5*time.Second, chromedp.Click(css(sel+" summary")))
		return sel
	}

	var heron, kingfisher string // the two conversations' addresses
	signIn()

	t.Run("two conversations outlive a reload and a new sign-in", func(t *testing.T) {
		b.t = t
		b.open("/chat")
		send("Tell me about herons")
		settled("first answer", 1)
		heron = b.path()
		idOf(heron)
		b.do("new chat", 10*time.Second, chromedp.Click(css("#new-chat")), chromedp.WaitVisible(css("#chat-input")))
		if n := evaluate[int](b, `document.querySelectorAll("#messages li").length`); n != 0 {
			b.fail("new chat", fmt.Errorf("a new chat shows %d messages", n))
		}
		send("Tell me about kingfishers")
		settled("second answer", 1)
		kingfisher = b.path()
		if idOf(kingfisher) == idOf(heron) {
			b.fail("two conversations", fmt.Errorf("both at %s", heron))
		}
		// Listed at once, with its menu, before any reload.
		b.waitFor("listed at once", fmt.Sprintf(`(() => { const li = document.querySelector('#conversations li[data-id=%q]');
			return !!li && !!li.querySelector('a[aria-current=page]') && !!li.querySelector('form[action="/chat/%s/rename"]') })()`,
			idOf(kingfisher), idOf(kingfisher)), 5*time.Second)

		b.open("/chat")
		if n := listed(); n != 2 {
			b.fail("listed after a reload", fmt.Errorf("the sidebar lists %d conversations", n))
		}
		b.submit("sign out", nil, "#sign-out")
		signIn()
		b.open("/chat")
		if n := listed(); n != 2 {
			b.fail("listed after a new sign-in", fmt.Errorf("the sidebar lists %d conversations", n))
		}
		b.open(heron)
		b.waitFor("heron restored", `document.querySelectorAll("#messages li").length === 2`, 5*time.Second)
		if s := b.text("#messages li.msg-assistant .msg-body"); !strings.Contains(s, "herons") {
			b.fail("heron answer", fmt.Errorf("answer %q", s))
		}
		if s := evaluate[string](b, `JSON.stringify({...localStorage, ...sessionStorage})`); strings.Contains(s, "heron") {
			b.fail("storage", fmt.Errorf("the browser's storage holds the conversation: %s", s))
		}
	})

	t.Run("search finds one", func(t *testing.T) {
		b.t = t
		b.open("/chat")
		b.submit("search", map[string]string{"#chat-q": "kingfishers"}, ".chat-search button")
		if n := listed(); n != 1 {
			b.fail("search", fmt.Errorf("%d conversations found, want 1", n))
		}
		b.waitFor("the kingfisher one", fmt.Sprintf(`!!document.querySelector('#conversations li[data-id=%q]')`, idOf(kingfisher)), time.Second)
		b.submit("search nothing", map[string]string{"#chat-q": "albatross"}, ".chat-search button")
		if n := listed(); n != 0 || !strings.Contains(b.text("#conversations"), "No conversation mentions") {
			b.fail("search for nothing", fmt.Errorf("%d listed: %q", n, b.text("#conversations")))
		}
	})

	t.Run("rename", func(t *testing.T) {
		b.t = t
		b.open(heron)
		sel := menu(idOf(heron))
		b.submit("rename", map[string]string{sel + " input[name=title]": "Heron notes"}, sel+` form.rename button`)
		if flash := b.text(".flash"); !strings.Contains(flash, "Renamed") {
			b.fail("renamed", fmt.Errorf("flash %q", flash))
		}
		if got := b.text("#chat-title"); got != "Heron notes" {
			b.fail("title", fmt.Errorf("title %q", got))
		}
		if got := b.text(sel + " .conv-title"); got != "Heron notes" {
			b.fail("sidebar title", fmt.Errorf("sidebar shows %q", got))
		}
	})

	t.Run("edit a message and continue from it", func(t *testing.T) {
		b.t = t
		b.open(heron)
		// Refused by the provider: the message stays as it was, the new
		// text waits in the edit box, the error says what to do.
		refused := "Tell me about egrets [fake-fail:429]"
		b.do("edit refused", 5*time.Second, chromedp.Click(css("#messages li.msg-user button.edit")))
		b.do("refused text", 5*time.Second, chromedp.SetValue(css("#messages li.msg-user .edit-form textarea"), refused),
			chromedp.Click(css("#messages li.msg-user .edit-form button[type=submit]")))
		b.waitFor("refused", `!document.querySelector("#chat-error").hidden && !!document.querySelector("#messages li.msg-user .edit-form textarea")`, 15*time.Second)
		if msg, box := b.text("#chat-error"), evaluate[string](b, `document.querySelector("#messages li.msg-user .edit-form textarea").value`); !strings.Contains(msg, "try again") || box != refused {
			b.fail("refused edit", fmt.Errorf("error %q, edit box %q", msg, box))
		}
		first := evaluate[string](b, `document.querySelector("#messages li.msg-user .msg-body").textContent`)
		if n := evaluate[int](b, `document.querySelectorAll("#messages li").length`); n != 2 || first != "Tell me about herons" {
			b.fail("refused edit", fmt.Errorf("%d messages, the first %q", n, first))
		}
		b.do("cancel", 5*time.Second, chromedp.Click(css("#messages li.msg-user .edit-form button.cancel")))
		b.do("edit", 5*time.Second, chromedp.Click(css("#messages li.msg-user button.edit")))
		b.do("new text", 5*time.Second, chromedp.SetValue(css("#messages li.msg-user .edit-form textarea"), "Tell me about egrets"),
			chromedp.Click(css("#messages li.msg-user .edit-form button[type=submit]")))
		settled("edited answer", 1)
		b.open(heron)
		b.waitFor("edited kept", `document.querySelectorAll("#messages li").length === 2`, 5*time.Second)
		if q, a := b.text("#messages li.msg-user .msg-body"), b.text("#messages li.msg-assistant .msg-body"); q != "Tell me about egrets" ||
			!strings.Contains(a, "egrets") || strings.Contains(a, "herons") {
			b.fail("edited", fmt.Errorf("question %q, answer %q", q, a))
		}
	})

	t.Run("regenerate with another model", func(t *testing.T) {
		b.t = t
		b.open(heron)
		other := evaluate[string](b, `(() => { const s = document.querySelector("#chat-model");
			const o = [...s.options].find(o => o.value !== s.value); s.value = o.value;
			s.dispatchEvent(new Event("change")); return o.textContent })()`)
		before := b.text("#messages li.msg-assistant .msg-body")
		if strings.Contains(before, other) {
			b.fail("other model", fmt.Errorf("the answer already names %q", other))
		}
		b.do("regenerate", 5*time.Second, chromedp.Click(css("#messages li.msg-assistant button.regenerate")))
		settled("regenerated", 1)
		b.open(heron)
		b.waitFor("regenerated kept", `document.querySelectorAll("#messages li").length === 2`, 5*time.Second)
		if a := b.text("#messages li.msg-assistant .msg-body"); !strings.Contains(a, other) {
			b.fail("regenerated", fmt.Errorf("answer %q, want one by %q", a, other))
		}
		// The model chosen is kept with the conversation.
		if got := evaluate[string](b, `document.querySelector("#chat-model").selectedOptions[0].textContent`); got != other {
			b.fail("model kept", fmt.Errorf("the picker shows %q, want %q", got, other))
		}
	})

	t.Run("a stopped answer is kept, marked cut short", func(t *testing.T) {
		b.t = t
		b.open(heron)
		send("Now tell me everything " + strings.Repeat("about wading birds ", 20))
		b.waitFor("streaming", `(() => { const m = document.querySelector("li.msg-assistant[data-streaming]");
			return !!m && m.querySelector(".msg-body").textContent.length > 0 })()`, 15*time.Second)
		b.do("stop", 5*time.Second, chromedp.Click(css("#chat-stop")))
		settled("stopped", 2)
		b.open(heron)
		b.waitFor("kept", `document.querySelectorAll("#messages li").length === 4`, 5*time.Second)
		last := `#messages li.msg-assistant:last-child`
		if !evaluate[bool](b, `!!document.querySelector("`+last+`[data-cut=true]")`) || !strings.Contains(b.text(last+" .cut-short"), "Cut short") {
			b.fail("cut short", fmt.Errorf("the stopped answer is not marked: %q", b.text(last)))
		}
		if a := b.text(last + " .msg-body"); a == "" || strings.Contains(a, "simulated by the fake OpenRouter.") {
			b.fail("what arrived", fmt.Errorf("the stopped answer holds %q", a))
		}
	})

	t.Run("delete", func(t *testing.T) {
		b.t = t
		b.open(kingfisher)
		sel := menu(idOf(kingfisher))
		b.submit("delete", nil, sel+` form[action$="/delete"] button`)
		if flash := b.text(".flash"); !strings.Contains(flash, "deleted") {
			b.fail("deleted", fmt.Errorf("flash %q", flash))
		}
		if n := listed(); n != 1 {
			b.fail("after delete", fmt.Errorf("the sidebar lists %d conversations", n))
		}
		b.open(kingfisher)
		if !strings.Contains(b.text(".notice"), "does not exist") || strings.Contains(b.text("#messages"), "kingfishers") {
			b.fail("deleted conversation", fmt.Errorf("its address shows %q", b.text("main")))
		}
	})

	t.Run("on a phone the conversations are a drawer", func(t *testing.T) {
		b.t = t
		b.do("phone", 5*time.Second, chromedp.EmulateViewport(360, 740))
		defer b.do("desktop", 5*time.Second, chromedp.EmulateViewport(1280, 900))
		b.open("/chat")
		const shown = `getComputedStyle(document.querySelector("#sidebar")).visibility === "visible" &&
			document.querySelector("#sidebar").getBoundingClientRect().left >= 0`
		if evaluate[bool](b, shown) {
			b.fail("drawer closed", fmt.Errorf("the list covers the chat on a phone"))
		}
		b.do("open the drawer", 5*time.Second, chromedp.Click(css("#drawer-toggle")))
		b.waitFor("drawer open", shown, 2*time.Second)
		if got := evaluate[string](b, `document.querySelector("#drawer-toggle").getAttribute("aria-expanded")`); got != "true" {
			b.fail("aria-expanded", fmt.Errorf("the toggle says %q", got))
		}
		b.submit("open a conversation", nil, fmt.Sprintf(`#conversations li[data-id=%q] > a`, idOf(heron)))
		b.waitFor("opened, drawer closed", `document.querySelectorAll("#messages li").length === 4 && !(`+shown+`)`, 5*time.Second)
	})

	t.Run("an image is kept across a reload, then deleted", func(t *testing.T) {
		b.t = t
		b.open("/images")
		b.do("generate", 10*time.Second, chromedp.SetValue(css("#image-prompt"), "a heron at dawn"), chromedp.Click(css("#image-submit")))
		b.waitFor("shown", `(() => { const i = document.querySelector("#image-results li[data-image] img");
			return !!i && i.complete && i.naturalWidth > 0 })()`, 30*time.Second)
		b.open("/images")
		b.waitFor("kept", `(() => { const i = document.querySelector("#image-results li[data-image] img");
			return !!i && i.complete && i.naturalWidth > 0 })()`, 10*time.Second)
		if s := b.text("#image-results li[data-image] figcaption"); !strings.Contains(s, "a heron at dawn") {
			b.fail("caption", fmt.Errorf("caption %q", s))
		}
		b.submit("delete image", nil, `#image-results li[data-image] form button`)
		if flash := b.text(".flash"); !strings.Contains(flash, "deleted") {
			b.fail("image deleted", fmt.Errorf("flash %q", flash))
		}
		if n := evaluate[int](b, `document.querySelectorAll("#image-results li[data-image]").length`); n != 0 {
			b.fail("image gone", fmt.Errorf("%d images listed", n))
		}
	})

	t.Run("a video finishes after a reload", func(t *testing.T) {
		b.t = t
		b.open("/videos")
		b.do("submit video", 10*time.Second, chromedp.SetValue(css("#video-prompt"), "a heron takes off"), chromedp.Click(css("#video-submit")))
		b.waitFor("listed", `!!document.querySelector("#video-jobs li[data-job]")`, 10*time.Second)
		b.open("/videos")
		job := `#video-jobs li[data-job]:first-child`
		status := b.text(job + " .status")
		if status != "Waiting to start" && status != "Being made" {
			b.fail("status after reload", fmt.Errorf("status %q, want a word for people while it runs", status))
		}
		b.waitFor("elapsed time", `/^for \d+ s$/.test(document.querySelector("`+job+` .elapsed").textContent)`, 5*time.Second)
		b.waitFor("finished", `document.querySelector("`+job+`").dataset.status === "completed"`, 60*time.Second)
		if s := b.text(job + " .status"); s != "Ready" {
			b.fail("ready", fmt.Errorf("status %q", s))
		}
		b.waitFor("plays", `(() => { const v = document.querySelector("`+job+` video");
			if (!v) return false; if (v.paused) { v.muted = true; v.play().catch(() => {}); }
			return !v.error && v.readyState >= 2 })()`, 20*time.Second)
	})
}
