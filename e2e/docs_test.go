package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDocsPageAuthorizesThroughTheLoginEndpoint drives the backend's /docs
// page in Chromium as an integrator would: "Authorize" with the OAuth2
// password flow signs in through POST /auth/login, and the token it gets
// opens GET /users/me.
func TestDocsPageAuthorizesThroughTheLoginEndpoint(t *testing.T) {
	b := StartBackend(t, t.TempDir())
	br := newBrowser(t, b.URL)
	br.open("/docs")
	br.waitFor("docs rendered", `document.querySelector('.swagger-ui .btn.authorize') !== null`, 20*time.Second)
	br.do("open the authorize dialog", 10*time.Second, chromedp.Click(css(".swagger-ui .btn.authorize")))
	br.waitFor("password flow offered", `document.querySelector('#oauth_username') !== null`, 10*time.Second)
	br.do("enter credentials", 10*time.Second,
		chromedp.SendKeys(css("#oauth_username"), AdminEmail),
		chromedp.SendKeys(css("#oauth_password"), AdminPassword))
	br.eval(`document.querySelector('#oauth_username').closest('.auth-container').querySelector('button.authorize').click()`)
	br.waitFor("signed in", `!!(window.ui.authSelectors.authorized().toJS().oauth2Password || {}).token`, 15*time.Second)

	br.eval(`const token = window.ui.authSelectors.authorized().toJS().oauth2Password.token.access_token;
		fetch('/users/me', {headers: {Authorization: 'Bearer ' + token}}).then(r => { window.__meStatus = r.status })`)
	br.waitFor("GET /users/me answers", `window.__meStatus !== undefined`, 10*time.Second)
	if status := evaluate[float64](br, `window.__meStatus`); status != 200 {
		t.Fatalf("GET /users/me with the docs page's token: %v", status)
	}
}
