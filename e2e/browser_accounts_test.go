package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAccountsShareNothingAndRejectedMessagesStayOut: two people
// take turns on one browser. What the first wrote in the chat is kept on
// the server, never in the browser's storage; once they sign out the
// second finds nothing of it, not even by the first one's address. A
// message the backend rejects stays in the box with the reason and is not
// sent again with the next one.
func TestBrowserAccountsShareNothingAndRejectedMessagesStayOut(t *testing.T) {
	fake := StartFake(t, "FAKE_OPENROUTER_CHUNK_DELAY=5ms")
	backend := StartBackend(t, t.TempDir(), "OPENROUTER_BASE_URL="+fake.FakeBaseURL(), "OPENROUTER_API_KEY="+FakeKey)
	frontend := StartFrontend(t, backend.URL)
	requireGateway(t, backend.URL)

	stamp := time.Now().UnixNano()
	alice, bob := fmt.Sprintf("alice-%d@example.com", stamp), fmt.Sprintf("bob-%d@example.com", stamp)
	const password = "take-turns-1"
	for _, email := range []string{alice, bob} {
		register(t, backend.URL, email, password)
	}
	b := newBrowser(t, frontend.URL)
	const secret = "pelican-secret-4242"

	signInAs := func(email string) {
		b.t.Helper()
		b.open("/login")
		b.submit("sign in as "+email, map[string]string{"#email": email, "#password": password}, `main button[type=submit]`)
		if got := b.text("nav a[title='Your profile']"); got != email {
			b.fail("signed in", fmt.Errorf("navigation shows %q, want %q", got, email))
		}
	}
	chat := func(text string) {
		b.t.Helper()
		b.do("send "+text[:min(len(text), 20)], 10*time.Second, chromedp.SetValue(css("#chat-input"), text), chromedp.Click(css("#chat-send")))
	}
	answered := func(n int) {
		b.t.Helper()
		b.waitFor(fmt.Sprintf("%d answers", n), fmt.Sprintf(`document.querySelectorAll("li.msg-assistant").length === %d &&
			!document.querySelector("li.msg-assistant[data-streaming]")`, n), 20*time.Second)
	}
	storage := func() string {
		b.t.Helper()
		return evaluate[string](b, `JSON.stringify({local: {...localStorage}, session: {...sessionStorage}})`)
	}

	var aliceChat, aliceImage string
	t.Run("Alice chats and signs out", func(t *testing.T) {
		b.t = t
		signInAs(alice)
		b.open("/chat")
		chat("Remember " + secret + " for me")
		answered(1)
		if s := storage(); strings.Contains(s, secret) {
			b.fail("nothing in storage", fmt.Errorf("the conversation is in the browser's storage: %s", s))
		}
		// A reload keeps it for Alice: the page reads it from the server.
		aliceChat = b.path()
		if !strings.HasPrefix(aliceChat, "/chat?c=") {
			b.fail("conversation address", fmt.Errorf("at %s, want the conversation's own address", aliceChat))
		}
		b.open(aliceChat)
		b.waitFor("conversation restored", `document.querySelectorAll("#messages li").length === 2`, 5*time.Second)
		if !strings.Contains(b.text("#conversations"), "Remember") {
			b.fail("sidebar", fmt.Errorf("the sidebar lists %q", b.text("#conversations")))
		}

		// And an image, kept for her.
		b.open("/images")
		b.do("generate", 10*time.Second, chromedp.SetValue(css("#image-prompt"), "a "+secret), chromedp.Click(css("#image-submit")))
		b.waitFor("image kept", `!!document.querySelector("#image-results li[data-image]")`, 30*time.Second)
		aliceImage = evaluate[string](b, `document.querySelector("#image-results li[data-image] img").getAttribute("src")`)

		b.submit("sign out", nil, "#sign-out")
		if s := storage(); s != `{"local":{},"session":{}}` {
			b.fail("storage after sign-out", fmt.Errorf("storage holds %s", s))
		}
	})

	t.Run("Bob finds nothing of Alice", func(t *testing.T) {
		b.t = t
		signInAs(bob)
		b.open("/chat")
		b.waitFor("chat ready", `!!document.querySelector("#chat-input") && !document.querySelector("#chat-input").disabled`, 5*time.Second)
		if n := evaluate[int](b, `document.querySelectorAll("#messages li").length`); n != 0 {
			b.fail("Bob's chat", fmt.Errorf("%d messages on Bob's page", n))
		}
		html := evaluate[string](b, `document.documentElement.outerHTML`)
		if strings.Contains(html, secret) || strings.Contains(storage(), secret) {
			b.fail("Bob's browser", fmt.Errorf("Alice's message is still in the page or in storage: %s", storage()))
		}
		if n := evaluate[int](b, `document.querySelectorAll("#conversations li[data-id]").length`); n != 0 {
			b.fail("Bob's sidebar", fmt.Errorf("Bob's sidebar lists %d conversations", n))
		}
		// Alice's conversation by its address: not found, nothing shown.
		b.open(aliceChat)
		html = evaluate[string](b, `document.documentElement.outerHTML`)
		if strings.Contains(html, secret) || !strings.Contains(b.text(".notice"), "does not exist") {
			b.fail("Alice's address", fmt.Errorf("Bob at %s sees %q", aliceChat, b.text("main")))
		}
		// Nor her image: not in Bob's gallery, not at its address.
		b.open("/images")
		if n := evaluate[int](b, `document.querySelectorAll("#image-results li[data-image]").length`); n != 0 || strings.Contains(b.text("main"), secret) {
			b.fail("Bob's gallery", fmt.Errorf("%d images, %q", n, b.text("#image-results")))
		}
		if status := evaluate[int](b, `(() => { const x = new XMLHttpRequest(); x.open("GET", `+strconv.Quote(aliceImage)+`, false); x.send(); return x.status })()`); status != http.StatusNotFound {
			b.fail("Alice's image", fmt.Errorf("GET %s as Bob: %d, want 404", aliceImage, status))
		}
		b.open("/chat")
	})

	t.Run("a rejected message stays out of the conversation", func(t *testing.T) {
		b.t = t
		// Too long for the backend: refused before it is sent.
		huge := strings.Repeat("quack ", 300<<10/6)
		chat(huge)
		b.waitFor("too long", `!document.querySelector("#chat-error").hidden`, 5*time.Second)
		if msg := b.text("#chat-error"); !strings.Contains(msg, "too long") {
			b.fail("too long", fmt.Errorf("message %q", msg))
		}
		if n := evaluate[int](b, `document.querySelector("#chat-input").value.length`); n != len(strings.TrimSpace(huge)) {
			b.fail("text kept", fmt.Errorf("the box holds %d characters, want the %d sent", n, len(strings.TrimSpace(huge))))
		}

		// Rejected by the provider (429): the marker would fail every later
		// call if the message stayed in the history.
		rejected := "please [fake-fail:429] now"
		chat(rejected)
		b.waitFor("rejected", `!document.querySelector("#chat-error").hidden && !document.querySelector("#chat-send").disabled`, 15*time.Second)
		if msg := b.text("#chat-error"); !strings.Contains(msg, "try again") {
			b.fail("rejected", fmt.Errorf("message %q", msg))
		}
		if v := evaluate[string](b, `document.querySelector("#chat-input").value`); v != rejected {
			b.fail("text kept", fmt.Errorf("the box holds %q, want %q back", v, rejected))
		}
		if n := evaluate[int](b, `document.querySelectorAll("#messages li").length`); n != 0 {
			b.fail("rejected message shown", fmt.Errorf("%d messages on the page", n))
		}

		chat("hello after that")
		answered(1)
		if b.text("#chat-error") != "" && !evaluate[bool](b, `document.querySelector("#chat-error").hidden`) {
			b.fail("next message", fmt.Errorf("the next message failed too: %q", b.text("#chat-error")))
		}
		// The server kept only the accepted exchange.
		b.open(b.path())
		b.waitFor("kept", `document.querySelectorAll("#messages li").length === 2`, 5*time.Second)
		if s := b.text("#messages"); strings.Contains(s, "fake-fail") || strings.Contains(s, "quack quack") || !strings.Contains(s, "hello after that") {
			b.fail("history", fmt.Errorf("the conversation kept a rejected message or lost the accepted one: %.300s", s))
		}
		if s := storage(); s != `{"local":{},"session":{}}` {
			b.fail("storage", fmt.Errorf("the chat wrote to the browser's storage: %.300s", s))
		}
	})
}

// register creates an account through the backend's API.
func register(t *testing.T, backendURL, email, password string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := httpClient.Post(backendURL+"/auth/register", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register %s: %d", email, resp.StatusCode)
	}
}
