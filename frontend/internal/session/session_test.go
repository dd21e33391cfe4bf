package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// jwtExpiring builds an unsigned token whose exp claim is at exp; the
// session only reads the claim, the backend verifies signatures.
func jwtExpiring(exp time.Time, id string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"EdDSA"}`)) + "." +
		enc(fmt.Appendf(nil, `{"exp":%d,"jti":%q}`, exp.Unix(), id)) + ".sig"
}

// fakeRotation hands out a new pair per call and counts the calls, like the
// backend's rotating /auth/refresh.
type fakeRotation struct {
	calls   atomic.Int32
	delay   time.Duration
	reject  bool
	gotIP   atomic.Value
	current atomic.Value
}

func (f *fakeRotation) refresh(ctx context.Context, token, ip, ua string) (*api.TokenPair, error) {
	n := f.calls.Add(1)
	f.gotIP.Store(ip + "|" + ua)
	time.Sleep(f.delay)
	if f.reject {
		return nil, &api.Problem{Status: http.StatusUnauthorized, Title: "Unauthorized"}
	}
	pair := &api.TokenPair{
		AccessToken:  jwtExpiring(time.Now().Add(15*time.Minute), fmt.Sprint("a", n)),
		RefreshToken: fmt.Sprint("r", n), ExpiresIn: 900,
	}
	f.current.Store(pair)
	return pair, nil
}

// testBinding is the binding of the sessions the tests' browsers hold.
const testBinding = "test-binding-012345678"

// request is a browser request holding tokens in cookies bound to testBinding.
func request(access, refresh string) *http.Request {
	return requestWithCookies(bound(access), bound(refresh))
}

// bound is a cookie value holding token under testBinding.
func bound(token string) string {
	if token == "" {
		return ""
	}
	return testBinding + "~" + token
}

// requestWithCookies is a browser request with these cookie values as they are.
func requestWithCookies(access, refresh string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", "test-browser")
	if access != "" {
		r.AddCookie(&http.Cookie{Name: accessCookie, Value: access})
	}
	if refresh != "" {
		r.AddCookie(&http.Cookie{Name: refreshCookie, Value: refresh})
	}
	return r
}

// cookies are the session cookies a response sets, values without their binding.
func cookies(w *httptest.ResponseRecorder) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range w.Result().Cookies() {
		_, c.Value = splitCookie(c.Value)
		out[c.Name] = c
	}
	return out
}

// bindings are the bindings of the session cookies a response sets.
func bindings(w *httptest.ResponseRecorder) map[string]string {
	out := map[string]string{}
	for _, c := range w.Result().Cookies() {
		out[c.Name], _ = splitCookie(c.Value)
	}
	return out
}

func TestValidAccessTokenIsUsedWithoutRefresh(t *testing.T) {
	f := &fakeRotation{}
	m := NewManager(f.refresh, Options{})
	access := jwtExpiring(time.Now().Add(10*time.Minute), "x")
	s := m.Load(httptest.NewRecorder(), request(access, "r0"), "10.0.0.1")

	got, err := s.AccessToken(context.Background())
	if err != nil || got != access {
		t.Fatalf("AccessToken = %q, %v; want the cookie's token", got, err)
	}
	if f.calls.Load() != 0 {
		t.Fatalf("refreshed %d times, want 0", f.calls.Load())
	}
}

func TestExpiringAccessTokenIsRefreshedAndCookiesRotated(t *testing.T) {
	f := &fakeRotation{}
	m := NewManager(f.refresh, Options{})
	w := httptest.NewRecorder()
	s := m.Load(w, request(jwtExpiring(time.Now().Add(5*time.Second), "old"), "r0"), "10.0.0.1")

	got, err := s.AccessToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pair := f.current.Load().(*api.TokenPair)
	if got != pair.AccessToken {
		t.Fatalf("AccessToken = %q, want the refreshed %q", got, pair.AccessToken)
	}
	c := cookies(w)
	if c[accessCookie].Value != pair.AccessToken || c[refreshCookie].Value != pair.RefreshToken {
		t.Fatalf("cookies not rotated: %v", w.Header()["Set-Cookie"])
	}
	for _, ck := range c {
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
			t.Errorf("cookie %s must be HttpOnly, SameSite=Lax, Path=/: %+v", ck.Name, ck)
		}
	}
	if ip := f.gotIP.Load(); ip != "10.0.0.1|test-browser" {
		t.Errorf("refresh forwarded %q, want the browser's address and user agent", ip)
	}
}

func TestConcurrentRefreshesOfOneTokenShareOneBackendCall(t *testing.T) {
	f := &fakeRotation{delay: 50 * time.Millisecond}
	m := NewManager(f.refresh, Options{})

	const n = 20
	var wg sync.WaitGroup
	got := make([]string, n)
	for i := range n {
		wg.Go(func() {
			// Every racing request carries the same cookies: no access token
			// (expired and dropped by the browser) and refresh token r0.
			s := m.Load(httptest.NewRecorder(), request("", "r0"), "ip")
			tok, err := s.AccessToken(context.Background())
			if err != nil {
				t.Error(err)
			}
			got[i] = tok
		})
	}
	wg.Wait()
	if c := f.calls.Load(); c != 1 {
		t.Fatalf("backend refreshed %d times, want exactly 1 (a second use of a rotated token revokes the session)", c)
	}
	for i := range got {
		if got[i] != got[0] || got[i] == "" {
			t.Fatalf("request %d got %q, request 0 got %q; all must share the one result", i, got[i], got[0])
		}
	}
}

// A request that presents the old refresh token after the shared call has
// finished is not handed the remembered result: it goes to the backend,
// whose REFRESH_REUSE_GRACE decides between a retry and reuse. (Handing it
// the current pair let a replayed cookie bypass reuse detection.)
func TestLateRequestWithTheOldTokenGoesToTheBackend(t *testing.T) {
	var presented []string
	var mu sync.Mutex
	reused := false
	m := NewManager(func(ctx context.Context, token, ip, ua string) (*api.TokenPair, error) {
		mu.Lock()
		defer mu.Unlock()
		presented = append(presented, token)
		if token == "r0" && len(presented) > 1 && reused {
			return nil, &api.Problem{Status: http.StatusUnauthorized, Title: "Unauthorized"}
		}
		return &api.TokenPair{AccessToken: jwtExpiring(time.Now().Add(15*time.Minute), token+"-next"),
			RefreshToken: fmt.Sprint("r", len(presented)), ExpiresIn: 900}, nil
	}, Options{})
	ctx := context.Background()

	first := m.Load(httptest.NewRecorder(), request("", "r0"), "ip")
	if _, err := first.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	// The backend's grace allows the retry: the late request gets what the
	// backend answered, a pair of its own.
	w := httptest.NewRecorder()
	late := m.Load(w, request("", "r0"), "ip")
	if _, err := late.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cookies(w)[refreshCookie]; got == nil || got.Value != "r2" {
		t.Fatalf("late request's refresh cookie = %+v, want the backend's second answer r2", got)
	}
	// Past the grace the backend calls it reuse: the late request's session
	// ends; it is not rescued by a remembered pair.
	reused = true
	replay := m.Load(httptest.NewRecorder(), request("", "r0"), "ip")
	if _, err := replay.AccessToken(ctx); err != ErrEnded {
		t.Fatalf("replayed token after the backend refused it: err = %v, want ErrEnded", err)
	}
	if want := []string{"r0", "r0", "r0"}; !slices.Equal(presented, want) {
		t.Fatalf("backend saw %q, want every presentation of r0 to reach it: %q", presented, want)
	}
}

// A failed refresh is not shared with later requests either: a network
// error deserves a fresh try.
func TestFailedRefreshIsTriedAgain(t *testing.T) {
	calls := 0
	m := NewManager(func(ctx context.Context, token, ip, ua string) (*api.TokenPair, error) {
		calls++
		if calls == 1 {
			return nil, errors.New("connection refused")
		}
		return &api.TokenPair{AccessToken: jwtExpiring(time.Now().Add(time.Hour), "a"), RefreshToken: "r1", ExpiresIn: 3600}, nil
	}, Options{})
	ctx := context.Background()
	if _, err := m.Load(httptest.NewRecorder(), request("", "r0"), "ip").AccessToken(ctx); err == nil || errors.Is(err, ErrEnded) {
		t.Fatalf("first try: err = %v, want the network error", err)
	}
	if _, err := m.Load(httptest.NewRecorder(), request("", "r0"), "ip").AccessToken(ctx); err != nil {
		t.Fatalf("second try: %v", err)
	}
	if calls != 2 {
		t.Fatalf("backend calls = %d, want 2", calls)
	}
}

func TestRejectedRefreshEndsSessionAndClearsCookies(t *testing.T) {
	f := &fakeRotation{reject: true}
	m := NewManager(f.refresh, Options{})
	w := httptest.NewRecorder()
	s := m.Load(w, request("", "revoked"), "ip")

	if _, err := s.AccessToken(context.Background()); err != ErrEnded {
		t.Fatalf("err = %v, want ErrEnded", err)
	}
	if s.SignedIn() {
		t.Fatal("session still signed in after the backend rejected it")
	}
	for _, name := range []string{accessCookie, refreshCookie} {
		c := cookies(w)[name]
		if c == nil || c.MaxAge >= 0 || c.Value != "" {
			t.Errorf("cookie %s not deleted: %+v", name, c)
		}
	}
}

func TestSecureCookiesUseHostPrefix(t *testing.T) {
	m := NewManager((&fakeRotation{}).refresh, Options{Secure: true})
	w := httptest.NewRecorder()
	m.Load(w, request("", ""), "ip").Start(&api.TokenPair{AccessToken: "a", RefreshToken: "r", ExpiresIn: 60}, true)
	for _, h := range w.Header()["Set-Cookie"] {
		if !strings.HasPrefix(h, "__Host-") || !strings.Contains(h, "Secure") {
			t.Errorf("cookie %q must be __Host- prefixed and Secure", h)
		}
	}
}

func TestNoCookiesMeansNoSession(t *testing.T) {
	m := NewManager((&fakeRotation{}).refresh, Options{})
	s := m.Load(httptest.NewRecorder(), request("", ""), "ip")
	if s.SignedIn() {
		t.Fatal("signed in without cookies")
	}
	if _, err := s.AccessToken(context.Background()); err != ErrNoSession {
		t.Fatalf("err = %v, want ErrNoSession", err)
	}
}

func TestShortLivedTokensAreRefreshedInTheirLastQuarter(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	token := func(iat, exp time.Time) string {
		return enc([]byte(`{"alg":"EdDSA"}`)) + "." + enc(fmt.Appendf(nil, `{"iat":%d,"exp":%d}`, iat.Unix(), exp.Unix())) + ".sig"
	}
	now := time.Now()
	f := &fakeRotation{}
	m := NewManager(f.refresh, Options{Now: func() time.Time { return now }})

	// A 20 s token with 10 s left is used as is, although 10 s < the 30 s skew.
	fresh := token(now.Add(-10*time.Second), now.Add(10*time.Second))
	if got, _ := m.Load(httptest.NewRecorder(), request(fresh, "r0"), "ip").AccessToken(context.Background()); got != fresh {
		t.Fatalf("refreshed a token in the first half of its life")
	}
	// With 4 s of 20 left it is refreshed.
	old := token(now.Add(-16*time.Second), now.Add(4*time.Second))
	if got, _ := m.Load(httptest.NewRecorder(), request(old, "r0"), "ip").AccessToken(context.Background()); got == old || f.calls.Load() != 1 {
		t.Fatalf("did not refresh a token in its last quarter (calls %d)", f.calls.Load())
	}
}

// The claims cache is keyed by the token's hash, so a browser's cookie
// cannot make an entry large, and a token over maxTokenBytes is neither
// read nor remembered.
func TestLifetimeCacheKeysByHashAndSkipsHugeTokens(t *testing.T) {
	var l lifetimes
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	token := jwtExpiring(exp, "x")
	if got := l.of(token); !got.ok || !got.exp.Equal(exp) {
		t.Fatalf("of(token) = %+v, want exp %v", got, exp)
	}
	if got := l.of(token); !got.ok || len(l.seen) != 1 {
		t.Fatalf("second read: %+v with %d entries, want the remembered one", got, len(l.seen))
	}
	if _, ok := l.seen[sha256.Sum256([]byte(token))]; !ok {
		t.Fatal("the entry is not keyed by the token's SHA-256")
	}

	// A megabyte cookie that decodes fine is still not read or kept.
	huge := jwtExpiring(exp, strings.Repeat("j", 1<<20))
	if got := l.of(huge); got.ok {
		t.Fatalf("a %d-byte token was read: %+v", len(huge), got)
	}
	atLimit := jwtExpiring(exp, strings.Repeat("j", maxTokenBytes*3/4-200))
	if len(atLimit) > maxTokenBytes {
		t.Fatalf("test token of %d bytes is over the limit", len(atLimit))
	}
	if got := l.of(atLimit); !got.ok {
		t.Fatalf("a %d-byte token (under the limit) was not read", len(atLimit))
	}
	if len(l.seen) != 2 {
		t.Fatalf("cache holds %d entries, want the two small tokens only", len(l.seen))
	}

	// Many distinct tokens never hold more than maxLifetimes entries.
	for i := range maxLifetimes + 10 {
		l.of(fmt.Sprint("not-a-token-", i))
	}
	if n := len(l.seen); n > maxLifetimes {
		t.Fatalf("cache holds %d entries, more than %d", n, maxLifetimes)
	}
}

// A sign-in starts a new binding; refreshes keep it; sign-out drops it.
func TestBindingLivesFromSignInToSignOut(t *testing.T) {
	f := &fakeRotation{}
	m := NewManager(f.refresh, Options{})
	pair := &api.TokenPair{AccessToken: jwtExpiring(time.Now().Add(5*time.Second), "a0"), RefreshToken: "r0", ExpiresIn: 900}

	w := httptest.NewRecorder()
	s := m.Load(w, requestWithCookies("", ""), "ip")
	if s.Binding() != "" {
		t.Fatalf("a signed-out browser has binding %q", s.Binding())
	}
	s.Start(pair, true)
	first := s.Binding()
	if b := bindings(w); len(first) != bindingLen || b[accessCookie] != first || b[refreshCookie] != first {
		t.Fatalf("binding %q, cookies carry %v", first, b)
	}

	// The next request reads it back and keeps it through a refresh.
	var access, refresh string
	for _, c := range w.Result().Cookies() {
		if c.Name == accessCookie {
			access = c.Value
		} else {
			refresh = c.Value
		}
	}
	w = httptest.NewRecorder()
	s = m.Load(w, requestWithCookies(access, refresh), "ip")
	if s.Binding() != first {
		t.Fatalf("loaded binding %q, want %q", s.Binding(), first)
	}
	if _, err := s.AccessToken(context.Background()); err != nil || f.calls.Load() != 1 {
		t.Fatalf("refresh: %v (%d calls)", err, f.calls.Load())
	}
	if b := bindings(w); s.Binding() != first || b[accessCookie] != first || b[refreshCookie] != first {
		t.Fatalf("after a refresh: binding %q, cookies %v, want %q kept", s.Binding(), b, first)
	}

	// Signing in again starts another; signing out ends it.
	s.Start(pair, true)
	if s.Binding() == first || len(s.Binding()) != bindingLen {
		t.Fatalf("a new sign-in kept binding %q", s.Binding())
	}
	s.End()
	if s.Binding() != "" {
		t.Fatalf("signed out with binding %q", s.Binding())
	}
}

// An access cookie bound to another session than the refresh cookie's is
// not used: the refresh token gets a fresh access token of its own session.
func TestAccessCookieOfAnotherSessionIsIgnored(t *testing.T) {
	f := &fakeRotation{}
	m := NewManager(f.refresh, Options{})
	planted := "planted-binding-abcdef~" + jwtExpiring(time.Now().Add(10*time.Minute), "theirs")
	w := httptest.NewRecorder()
	s := m.Load(w, requestWithCookies(planted, bound("r0")), "ip")
	if s.Binding() != testBinding {
		t.Fatalf("binding %q, want the refresh cookie's %q", s.Binding(), testBinding)
	}
	tok, err := s.AccessToken(context.Background())
	if err != nil || strings.Contains(tok, "theirs") || f.calls.Load() != 1 {
		t.Fatalf("AccessToken = %q, %v (%d refreshes); want a refreshed token, not the planted one", tok, err, f.calls.Load())
	}
	if b := bindings(w); b[accessCookie] != testBinding {
		t.Fatalf("rotated cookies carry %v, want %q", b, testBinding)
	}
}

// Cookies from before bindings: the refresh cookie still works and its
// first refresh gives the session a binding, the same one for every
// request waiting on that refresh; an access cookie alone is ignored.
func TestCookiesWithoutABindingGetOneAtTheFirstRefresh(t *testing.T) {
	f := &fakeRotation{delay: 30 * time.Millisecond}
	m := NewManager(f.refresh, Options{})
	legacyAccess := jwtExpiring(time.Now().Add(10*time.Minute), "legacy")

	const n = 8
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w := httptest.NewRecorder()
			s := m.Load(w, requestWithCookies(legacyAccess, "r0"), "ip")
			if s.Binding() != "" || !s.SignedIn() {
				t.Errorf("legacy cookies: binding %q, signed in %v", s.Binding(), s.SignedIn())
			}
			if _, err := s.AccessToken(context.Background()); err != nil {
				t.Error(err)
			}
			got[i] = bindings(w)[refreshCookie]
		})
	}
	wg.Wait()
	if f.calls.Load() != 1 || len(got[0]) != bindingLen {
		t.Fatalf("%d refreshes, binding %q; want one refresh giving a binding", f.calls.Load(), got[0])
	}
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("requests sharing one refresh got bindings %q and %q", got[0], got[i])
		}
	}

	if s := m.Load(httptest.NewRecorder(), requestWithCookies(legacyAccess, ""), "ip"); s.SignedIn() {
		t.Fatal("an access cookie without binding or refresh cookie counts as a session")
	}
}

// Without "keep me signed in" the cookies are browser-session cookies (no
// Max-Age), also after a refresh; with it they last the session's TTL.
// Signing out forgets the marker too.
func TestKeepMeSignedInDecidesTheCookiesLifetime(t *testing.T) {
	f := &fakeRotation{}
	m := NewManager(f.refresh, Options{SessionTTL: 48 * time.Hour})
	pair := &api.TokenPair{AccessToken: jwtExpiring(time.Now().Add(5*time.Second), "a0"), RefreshToken: "r0", ExpiresIn: 900}
	set := func(w *httptest.ResponseRecorder) map[string]*http.Cookie {
		out := map[string]*http.Cookie{}
		for _, c := range w.Result().Cookies() {
			out[c.Name] = c
		}
		return out
	}

	w := httptest.NewRecorder()
	s := m.Load(w, requestWithCookies("", ""), "ip")
	s.Start(pair, false)
	got := set(w)
	for _, name := range []string{accessCookie, refreshCookie, transientCookie} {
		if c := got[name]; c == nil || c.MaxAge != 0 || !c.Expires.IsZero() || !c.HttpOnly {
			t.Fatalf("not kept: cookie %s = %+v, want an HttpOnly browser-session cookie", name, c)
		}
	}
	if !s.Transient() {
		t.Fatal("a session without keep me signed in is not transient")
	}

	// The next request, a refresh: still browser-session cookies.
	r := requestWithCookies(got[accessCookie].Value, got[refreshCookie].Value)
	r.AddCookie(&http.Cookie{Name: transientCookie, Value: "1"})
	w = httptest.NewRecorder()
	s = m.Load(w, r, "ip")
	if _, err := s.AccessToken(context.Background()); err != nil || f.calls.Load() != 1 {
		t.Fatalf("refresh: %v (%d calls)", err, f.calls.Load())
	}
	got = set(w)
	for _, name := range []string{accessCookie, refreshCookie} {
		if c := got[name]; c == nil || c.MaxAge != 0 {
			t.Fatalf("after a refresh, cookie %s = %+v, want a browser-session cookie", name, c)
		}
	}

	// Signing in again with keep me signed in: persistent, marker gone.
	w = httptest.NewRecorder()
	s = m.Load(w, r, "ip")
	s.Start(pair, true)
	got = set(w)
	if c := got[refreshCookie]; c == nil || c.MaxAge != int((48*time.Hour).Seconds()) {
		t.Fatalf("kept: refresh cookie %+v, want Max-Age of the session TTL", c)
	}
	if c := got[transientCookie]; c == nil || c.MaxAge >= 0 {
		t.Fatalf("kept: the transient marker %+v is not deleted", c)
	}

	// Signing out of a transient session deletes the marker as well.
	w = httptest.NewRecorder()
	m.Load(w, r, "ip").End()
	if c := set(w)[transientCookie]; c == nil || c.MaxAge >= 0 {
		t.Fatalf("signed out: the transient marker %+v is not deleted", c)
	}
}
