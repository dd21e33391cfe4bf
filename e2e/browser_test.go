package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserJourney drives the real frontend, backend and fake OpenRouter
// from headless chromium, the way a person uses them: a user signs up, signs
// in, chats, makes an image and a video, changes the password and signs
// out; then an admin finds that user, promotes them, purges tokens and
// deletes them.
func TestBrowserJourney(t *testing.T) {
	fake := StartFake(t, "FAKE_OPENROUTER_CHUNK_DELAY=40ms", "FAKE_OPENROUTER_VIDEO_POLLS=2")
	backend := StartBackend(t, t.TempDir(), "OPENROUTER_BASE_URL="+fake.FakeBaseURL(), "OPENROUTER_API_KEY="+FakeKey)
	frontend := StartFrontend(t, backend.URL)
	b := newBrowser(t, frontend.URL)

	email := fmt.Sprintf("duck-%d@example.com", time.Now().UnixNano())
	const password, newPassword = "quack-quack-1", "quack-quack-2"

	t.Run("sign up and sign in", func(t *testing.T) {
		b.t = t
		b.open("/register")
		b.submit("register", map[string]string{"#email": email, "#password": password, "#password_confirm": password}, `button[type=submit]`)
		if p := b.path(); !strings.HasPrefix(p, "/login") {
			b.fail("after sign-up", fmt.Errorf("at %s, want the sign-in page", p))
		}
		b.submit("sign in", map[string]string{"#password": password}, `main button[type=submit]`)
		if got := b.text("#profile-email, nav a[title='Your profile']"); got != email {
			b.fail("signed in", fmt.Errorf("navigation shows %q, want %q", got, email))
		}
		b.assertNoTokenVisible("after sign-in")
	})

	t.Run("chat streams the answer", func(t *testing.T) {
		b.t = t
		requireGateway(t, backend.URL)
		b.open("/chat")
		b.eval(`localStorage.clear()`)
		prompt := "Tell me about ducks " + strings.Repeat("and ponds ", 12)
		b.do("send message", 10*time.Second, chromedp.SetValue(css("#chat-input"), prompt), chromedp.Click(css("#chat-send")))
		// While the answer is streaming it is already partly on the page...
		const probe = `(() => { const m = document.querySelector("li.msg-assistant");
			return m ? {streaming: m.dataset.streaming === "true", len: m.querySelector(".msg-body").textContent.length} : null })()`
		var partial int
		deadline := time.Now().Add(15 * time.Second)
		for partial == 0 {
			s := evaluate[*struct {
				Streaming bool `json:"streaming"`
				Len       int  `json:"len"`
			}](b, probe)
			if s != nil && s.Streaming && s.Len > 0 {
				partial = s.Len
			} else if s != nil && !s.Streaming && s.Len > 0 {
				b.fail("stream", fmt.Errorf("the answer appeared only when complete"))
			}
			if time.Now().After(deadline) {
				b.fail("stream", fmt.Errorf("no partial answer within 15s"))
			}
			time.Sleep(15 * time.Millisecond)
		}
		// ...and it keeps growing until it is complete.
		b.waitFor("stream ends", `!document.querySelector("li.msg-assistant[data-streaming]")`, 20*time.Second)
		answer := b.text("li.msg-assistant .msg-body")
		if len(answer) <= partial || !strings.Contains(answer, "You said") {
			b.fail("answer", fmt.Errorf("final answer (%d chars, was %d while streaming): %q", len(answer), partial, answer))
		}
		// The conversation survives a reload: it is kept on the server.
		b.open(b.path())
		b.waitFor("conversation restored", `document.querySelectorAll("#messages li").length === 2`, 5*time.Second)
		b.assertNoTokenVisible("chat")

		// Stop cancels the generation and keeps what arrived.
		b.do("send long message", 10*time.Second, chromedp.SetValue(css("#chat-input"), prompt+prompt), chromedp.Click(css("#chat-send")))
		b.waitFor("second answer streaming", `(() => { const m = document.querySelector("li.msg-assistant[data-streaming]");
			return !!m && m.querySelector(".msg-body").textContent.length > 0 })()`, 15*time.Second)
		b.do("stop", 5*time.Second, chromedp.Click(css("#chat-stop")))
		b.waitFor("stopped", `!document.querySelector("li.msg-assistant[data-streaming]") && !document.querySelector("#chat-send").disabled`, 5*time.Second)
		if msg := evaluate[string](b, `document.querySelector("#chat-error").hidden ? "" : document.querySelector("#chat-error").textContent`); msg != "" {
			b.fail("stop", fmt.Errorf("stopping showed an error: %q", msg))
		}
		if n := evaluate[int](b, `document.querySelectorAll("li.msg-assistant").length`); n != 2 {
			b.fail("stop", fmt.Errorf("%d answers on the page, want the first and the stopped one", n))
		}

		// An upstream failure in the middle of the stream is shown as a message.
		b.do("send failing message", 10*time.Second,
			chromedp.SetValue(css("#chat-input"), "this one breaks [fake-fail:error-mid-stream]"), chromedp.Click(css("#chat-send")))
		b.waitFor("error shown", `!document.querySelector("#chat-error").hidden`, 15*time.Second)
		if msg := b.text("#chat-error"); !strings.Contains(msg, "The model failed") {
			b.fail("mid-stream error", fmt.Errorf("message %q", msg))
		}
	})

	t.Run("image generation shows the image", func(t *testing.T) {
		b.t = t
		requireGateway(t, backend.URL)
		b.open("/images")
		b.do("generate image", 10*time.Second,
			chromedp.SetValue(css("#image-prompt"), "a yellow duck on a pond"), chromedp.Click(css("#image-submit")))
		b.waitFor("image shown", `(() => { const i = document.querySelector("#image-results img");
			return !!i && i.complete && i.naturalWidth > 0 })()`, 30*time.Second)
		b.waitFor("download link", `!!document.querySelector("#image-results a[download]")`, time.Second)
	})

	t.Run("video from an uploaded image plays", func(t *testing.T) {
		b.t = t
		requireGateway(t, backend.URL)
		picture := writePNG(t)
		b.open("/videos")
		b.do("choose image", 10*time.Second,
			chromedp.Click(css("#video-source-image")), chromedp.SetUploadFiles(css("#video-image"), []string{picture}))
		b.waitFor("preview", `(() => { const p = document.querySelector("#video-image-preview");
			return !p.hidden && p.src.startsWith("data:image/png") })()`, 5*time.Second)
		b.do("submit video", 10*time.Second,
			chromedp.SetValue(css("#video-prompt"), "the duck swims away"), chromedp.Click(css("#video-submit")))
		b.waitFor("video completes", `document.querySelector("#video-status").dataset.status === "completed"`, 60*time.Second)
		b.waitFor("video plays", `(() => { const v = document.querySelector("#video-player video");
			if (!v) return false; if (v.paused) { v.muted = true; v.play().catch(() => {}); }
			return !v.error && v.readyState >= 2 })()`, 20*time.Second)
		b.waitFor("video download link", `!!document.querySelector("#video-download[download]")`, time.Second)
		b.waitFor("job listed", `document.querySelectorAll("#video-jobs li[data-job]").length >= 1`, time.Second)
	})

	t.Run("profile creates, shows once and revokes an API key", func(t *testing.T) {
		b.t = t
		b.open("/profile")
		b.do("choose scopes", 5*time.Second, chromedp.Click(css(`input[name=key_scopes][value=read]`)))
		b.submit("create key", map[string]string{"#key-name": "journey", "#key-expires": "30"}, `#key-form button[type=submit]`)
		secret := b.text("#new-key-secret")
		if !regexp.MustCompile(`^dg_[0-9A-Za-z]{43}$`).MatchString(secret) {
			b.fail("new key", fmt.Errorf("secret shown: %q", secret))
		}
		b.do("copy", 5*time.Second, chromedp.Click(css("#copy-key")))
		b.waitFor("copied or selected", `!document.querySelector("#copy-done").hidden || window.getSelection().toString() === `+strconv.Quote(secret), 5*time.Second)
		// The key works as a bearer credential on the API, within its scopes.
		if status := bearerStatus(t, backend.URL+"/users/me", secret); status != http.StatusOK {
			b.fail("key on the API", fmt.Errorf("GET /users/me with the key: %d", status))
		}
		if status := bearerStatus(t, backend.URL+"/users/me/sessions", secret); status != http.StatusForbidden {
			b.fail("key on account management", fmt.Errorf("GET /users/me/sessions with the key: %d", status))
		}
		b.open("/profile")
		if strings.Contains(b.text("main"), secret) {
			b.fail("secret shown once", fmt.Errorf("the secret is on the profile again"))
		}
		b.waitFor("key listed", `[...document.querySelectorAll("#keys tbody td")].some(td => td.textContent === "journey")`, time.Second)
		b.submit("revoke key", nil, `#keys form[action$="/revoke"] button`)
		if flash := b.text(".flash"); !strings.Contains(flash, "revoked") {
			b.fail("revoked", fmt.Errorf("flash %q", flash))
		}
		if status := bearerStatus(t, backend.URL+"/users/me", secret); status != http.StatusUnauthorized {
			b.fail("revoked key", fmt.Errorf("GET /users/me with the revoked key: %d", status))
		}
		b.assertNoTokenVisible("profile keys")
	})

	t.Run("usage page charts the spend", func(t *testing.T) {
		b.t = t
		b.open("/usage")
		b.waitFor("chart drawn", `[...document.querySelectorAll("#usage-chart rect")].some(r => +r.getAttribute("height") > 0)`, 5*time.Second)
		if n, _ := strconv.Atoi(b.text("#usage-requests .big")); n < 3 {
			b.fail("usage requests", fmt.Errorf("the page shows %d requests, want the chat, image and video calls", n))
		}
		if !strings.Contains(b.text("#usage-models"), "openai/gpt-4o-mini") || !strings.Contains(b.text("#usage-cost .big"), "$") {
			b.fail("usage by model", fmt.Errorf("models table %q, cost %q", b.text("#usage-models"), b.text("#usage-cost .big")))
		}
		b.open("/usage?period=30")
		b.waitFor("30 days", `document.querySelectorAll("#usage-chart rect").length >= 30`, 5*time.Second)
	})

	t.Run("profile changes the password", func(t *testing.T) {
		b.t = t
		b.open("/profile")
		b.waitFor("sessions listed", `document.querySelectorAll("#sessions tbody tr").length >= 1`, 5*time.Second)
		b.submit("change password", map[string]string{
			"#current_password": password, "#new-password": newPassword, "#password_confirm": newPassword,
		}, `#password-form button[type=submit]`)
		if flash := b.text(".flash"); !strings.Contains(flash, "password is changed") {
			b.fail("password changed", fmt.Errorf("flash %q", flash))
		}
		b.assertNoTokenVisible("profile")
	})

	t.Run("sign out closes the protected pages", func(t *testing.T) {
		b.t = t
		b.submit("sign out", nil, "#sign-out")
		for _, p := range []string{"/profile", "/chat", "/admin"} {
			b.open(p)
			if got := b.path(); !strings.HasPrefix(got, "/login") {
				b.fail("protected "+p, fmt.Errorf("signed-out browser reached %s", got))
			}
		}
		// The old password no longer works, the new one does.
		b.open("/login")
		b.submit("old password", map[string]string{"#email": email, "#password": password}, `main button[type=submit]`)
		if msg := b.text(".form-error"); !strings.Contains(msg, "Wrong email or password") {
			b.fail("old password refused", fmt.Errorf("message %q", msg))
		}
		b.submit("new password", map[string]string{"#email": email, "#password": newPassword}, `main button[type=submit]`)
		if got := b.path(); !strings.HasPrefix(got, "/chat") {
			b.fail("signed in with the new password", fmt.Errorf("at %s", got))
		}
		b.submit("sign out again", nil, "#sign-out")
	})

	t.Run("admin manages the user", func(t *testing.T) {
		b.t = t
		b.open("/login")
		b.submit("admin sign in", map[string]string{"#email": AdminEmail, "#password": AdminPassword}, `main button[type=submit]`)

		b.open("/admin")
		users, _ := strconv.Atoi(strings.TrimSpace(b.text("#stat-users .big")))
		if users < 2 {
			b.fail("stats", fmt.Errorf("stats show %d users, want at least the admin and %s", users, email))
		}
		// The user's chat, image and video calls are counted and charted.
		if n, _ := strconv.Atoi(b.text("#stat-ai .big")); n < 3 {
			b.fail("AI stats", fmt.Errorf("stats show %d AI requests, want at least 3", n))
		}
		b.waitFor("usage chart", `document.querySelectorAll("table.usage svg.bar rect").length >= 1`, time.Second)
		if spend := b.text("#spend-by-user"); !strings.Contains(spend, email) {
			b.fail("spend by user", fmt.Errorf("the admin's spend table does not list %s: %q", email, spend))
		}
		if status := b.text("#db-health .big"); status != "ok" {
			b.fail("db health", fmt.Errorf("DB status %q", status))
		}

		row := fmt.Sprintf(`tr[data-email=%q]`, email)
		b.open("/admin/users")
		b.submit("search", map[string]string{"#user-search": email}, `form.search button`)
		b.waitFor("user found", fmt.Sprintf(`document.querySelectorAll("#users tbody tr[data-email]").length === 1 && !!document.querySelector(%q)`, row), 5*time.Second)

		b.submit("change role", map[string]string{row + ` select[name=role]`: "admin"}, row+` form[action$="/role"] button`)
		if flash := b.text(".flash"); !strings.Contains(flash, "is now admin") {
			b.fail("role changed", fmt.Errorf("flash %q", flash))
		}
		role := evaluate[string](b, fmt.Sprintf(`document.querySelector(%q).value`, row+` select[name=role]`))
		if role != "admin" {
			b.fail("role shown", fmt.Errorf("role select shows %q", role))
		}

		b.open("/admin")
		b.submit("purge", nil, "#purge")
		m := regexp.MustCompile(`Purged (\d+)`).FindStringSubmatch(b.text(".flash"))
		if m == nil {
			b.fail("purge", fmt.Errorf("flash %q", b.text(".flash")))
		}
		if n, _ := strconv.Atoi(m[1]); n < 1 {
			b.fail("purge count", fmt.Errorf("purged %d, want the user's signed-out sessions", n))
		}

		b.open("/admin/users?q=" + email)
		b.submit("delete", nil, row+` form[action$="/delete"] button`)
		if flash := b.text(".flash"); !strings.Contains(flash, "was deleted") {
			b.fail("deleted", fmt.Errorf("flash %q", flash))
		}
		b.waitFor("row gone", fmt.Sprintf(`!document.querySelector(%q)`, row), 2*time.Second)

		b.open("/admin/audit")
		b.waitFor("audit lists the deletion", `[...document.querySelectorAll("#audit td")].some(td => td.textContent === "admin.user_deleted")`, 2*time.Second)
		b.assertNoTokenVisible("admin")
	})
}

// requireGateway fails the test unless the backend serves the AI
// endpoints: without a token a known route answers 401, a missing one 404.
// A missing gateway is a regression here, not a reason to skip.
func requireGateway(t *testing.T, backendURL string) {
	t.Helper()
	resp, err := httpClient.Get(backendURL + "/ai/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /ai/models without a token answered %d, want 401: the AI routes are missing", resp.StatusCode)
	}
}

// bearerStatus is the status of GET url with a bearer credential.
func bearerStatus(t *testing.T, url, bearer string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// writePNG writes a small real PNG for the upload.
func writePNG(t *testing.T) string {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for x := range 64 {
		for y := range 64 {
			img.Set(x, y, color.RGBA{R: 250, G: 200, B: uint8(y * 4), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "duck.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
