// Package session keeps a browser's backend tokens in HttpOnly cookies and
// refreshes the access token when it is missing, about to expire, or
// rejected — the backend-for-frontend pattern: the browser never sees a token.
//
// Each sign-in also gets a binding: a random id that names this browser's
// session for the frontend (the CSRF token is an HMAC of it) and stays the
// same across token refreshes. It travels inside both token cookies
// ("<binding>~<token>"), so a cookie planted from elsewhere cannot pair
// one session's binding with another session's tokens: the access cookie
// counts only when its binding is the refresh cookie's.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// Cookie base names; with Secure cookies they get the __Host- prefix, which
// browsers only accept from a secure origin, for path /, without a domain.
const (
	accessCookie  = "dg_access"
	refreshCookie = "dg_refresh"
	// transientCookie marks a session signed in without "keep me signed
	// in": its cookies are browser-session cookies (no Max-Age), and stay so
	// across refreshes. It is a browser-session cookie itself, so it goes
	// when they go. It decides nothing but the cookies' lifetime: the
	// backend holds the session's own, shorter, lifetime.
	transientCookie = "dg_transient"
)

// browserSession is the cookie lifetime that is none: the browser forgets
// the cookie when it closes.
const browserSession time.Duration = 0

// bindingLen is the length of a binding: 16 random bytes, base64url.
const bindingLen = 22

// bindingSep separates the binding from the token in a cookie; it is in
// neither base64url nor a JWT.
const bindingSep = '~'

// newBinding returns a fresh random binding.
func newBinding() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// splitCookie reads "<binding>~<token>". A value of another shape (a cookie
// from before bindings, or none of ours) has no binding.
func splitCookie(value string) (binding, token string) {
	if len(value) <= bindingLen || value[bindingLen] != bindingSep {
		return "", value
	}
	b := value[:bindingLen]
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", value
		}
	}
	return b, value[bindingLen+1:]
}

// ErrNoSession means the browser is not signed in.
var ErrNoSession = errors.New("session: not signed in")

// ErrEnded means the backend no longer accepts the session's refresh token
// (signed out elsewhere, expired, revoked); the cookies have been cleared.
var ErrEnded = errors.New("session: ended")

// RefreshFunc exchanges a refresh token at the backend. clientIP and userAgent
// describe the browser, so the backend's session list shows the real device.
type RefreshFunc func(ctx context.Context, refreshToken, clientIP, userAgent string) (*api.TokenPair, error)

// Options configure a Manager.
type Options struct {
	Secure     bool          // cookies only over HTTPS
	SessionTTL time.Duration // lifetime of the refresh cookie
	// Skew is how long before its expiry an access token is refreshed.
	Skew time.Duration
	// RefreshTimeout bounds one backend refresh call.
	RefreshTimeout time.Duration
	Now            func() time.Time
}

// Manager creates per-request sessions and shares refreshes between them.
type Manager struct {
	opts    Options
	refresh RefreshFunc
	flight  *flight
	claims  lifetimes
}

// NewManager returns a Manager that refreshes tokens through refresh.
func NewManager(refresh RefreshFunc, opts Options) *Manager {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Skew == 0 {
		opts.Skew = 30 * time.Second
	}
	if opts.RefreshTimeout == 0 {
		opts.RefreshTimeout = 10 * time.Second
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 720 * time.Hour
	}
	return &Manager{opts: opts, refresh: refresh, flight: newFlight()}
}

// Session is one request's view of the browser's tokens. Rotated tokens are
// written as cookies to the request's response, so every method that may
// refresh must be called before the response headers are sent.
type Session struct {
	m         *Manager
	w         http.ResponseWriter
	clientIP  string
	userAgent string

	mu      sync.Mutex
	access  string
	refresh string
	binding string // "" when signed out
	// transient: signed in without "keep me signed in" (see
	// transientCookie); marked: the browser holds the marker cookie.
	transient, marked bool
}

// Load reads the session cookies of r; w receives rotated cookies.
//
// The refresh cookie decides the binding; an access cookie with another
// binding is ignored (the refresh token gets a new one). A refresh cookie
// from before bindings is still honoured: its access cookie is dropped, so
// the first refresh gives the session a binding. An access cookie without
// a binding and without a refresh cookie is ignored.
func (m *Manager) Load(w http.ResponseWriter, r *http.Request, clientIP string) *Session {
	s := &Session{m: m, w: w, clientIP: clientIP, userAgent: r.UserAgent()}
	var accessBinding, access string
	if c, err := r.Cookie(m.name(accessCookie)); err == nil && c.Value != "" {
		accessBinding, access = splitCookie(c.Value)
	}
	if c, err := r.Cookie(m.name(refreshCookie)); err == nil && c.Value != "" {
		s.binding, s.refresh = splitCookie(c.Value)
		if s.refresh != "" && s.binding != "" && accessBinding == s.binding {
			s.access = access
		}
	} else if accessBinding != "" && access != "" {
		s.binding, s.access = accessBinding, access
	}
	if c, err := r.Cookie(m.name(transientCookie)); err == nil && c.Value != "" {
		s.marked = true
		s.transient = s.binding != "" // a marker without a session means nothing
	}
	return s
}

// Binding is the session's binding: random, fixed from sign-in to sign-out
// across refreshes, and "" when the browser is not signed in (or holds a
// session from before bindings that has not been refreshed yet).
func (s *Session) Binding() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.binding
}

// SignedIn reports whether the browser holds a session (it may still turn
// out to be ended when the backend is asked).
func (s *Session) SignedIn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh != "" || s.access != ""
}

// RefreshToken returns the refresh token, for signing out.
func (s *Session) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh
}

// AccessToken returns an access token that is valid for at least the skew,
// refreshing it first when it is missing or about to expire.
func (s *Session) AccessToken(ctx context.Context) (string, error) {
	s.mu.Lock()
	access, refresh := s.access, s.refresh
	fresh := access != "" && !s.accessExpiresSoonLocked()
	s.mu.Unlock()
	if fresh {
		return access, nil
	}
	if refresh == "" {
		if access != "" {
			return access, nil // last chance: let the backend judge it
		}
		return "", ErrNoSession
	}
	if err := s.Refresh(ctx); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access, nil
}

// Refresh exchanges the refresh token for a new pair now, e.g. after the
// backend answered 401. Concurrent refreshes of one token share one call.
func (s *Session) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refresh == "" {
		return ErrNoSession
	}
	old, binding := s.refresh, s.binding
	res, err := s.m.flight.do(ctx, old, func() (refreshed, error) {
		// Detached from the request: a browser that gives up must not fail
		// the other requests waiting for the same refresh.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.m.opts.RefreshTimeout)
		defer cancel()
		pair, err := s.m.refresh(rctx, old, s.clientIP, s.userAgent)
		if binding == "" {
			binding = newBinding() // a session from before bindings gets one, shared by the waiters
		}
		return refreshed{pair: pair, binding: binding}, err
	})
	if err != nil {
		var p *api.Problem
		if errors.As(err, &p) && p.Status == http.StatusUnauthorized {
			s.endLocked()
			return ErrEnded
		}
		return fmt.Errorf("session: refresh: %w", err)
	}
	s.startLocked(res.pair, res.binding)
	return nil
}

// Start stores a freshly issued pair (after sign-in) under a new binding.
// keep is the person's "keep me signed in": with it the cookies last the
// session's lifetime (SessionTTL); without it they are browser-session
// cookies, gone when the browser closes, here and after every refresh.
func (s *Session) Start(pair *api.TokenPair, keep bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transient = !keep
	switch {
	case s.transient:
		http.SetCookie(s.w, s.m.cookie(transientCookie, "1", browserSession))
		s.marked = true
	case s.marked:
		http.SetCookie(s.w, s.m.cookie(transientCookie, "", -1))
		s.marked = false
	}
	s.startLocked(pair, newBinding())
}

// Transient reports whether the session was signed in without "keep me
// signed in".
func (s *Session) Transient() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transient
}

// End forgets the tokens and clears the cookies (after sign-out).
func (s *Session) End() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked()
}

func (s *Session) startLocked(pair *api.TokenPair, binding string) {
	s.access, s.refresh, s.binding = pair.AccessToken, pair.RefreshToken, binding
	accessAge := time.Duration(pair.ExpiresIn) * time.Second
	if accessAge <= 0 {
		accessAge = 15 * time.Minute
	}
	refreshAge := s.m.opts.SessionTTL
	if s.transient {
		accessAge, refreshAge = browserSession, browserSession
	}
	prefix := binding + string(bindingSep)
	http.SetCookie(s.w, s.m.cookie(accessCookie, prefix+pair.AccessToken, accessAge))
	http.SetCookie(s.w, s.m.cookie(refreshCookie, prefix+pair.RefreshToken, refreshAge))
}

func (s *Session) endLocked() {
	s.access, s.refresh, s.binding = "", "", ""
	http.SetCookie(s.w, s.m.cookie(accessCookie, "", -1))
	http.SetCookie(s.w, s.m.cookie(refreshCookie, "", -1))
	if s.marked {
		http.SetCookie(s.w, s.m.cookie(transientCookie, "", -1))
	}
	s.transient, s.marked = false, false
}

func (m *Manager) name(base string) string {
	if m.opts.Secure {
		return "__Host-" + base
	}
	return base
}

// cookie builds a session cookie; a negative maxAge deletes it, zero
// (browserSession) makes it last until the browser closes.
func (m *Manager) cookie(base, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{ //nolint:gosec // Secure follows COOKIE_SECURE: false only for plain-HTTP development
		Name: m.name(base), Value: value, Path: "/",
		HttpOnly: true, Secure: m.opts.Secure, SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}

// accessExpiresSoonLocked reads the exp claim of the access token without
// verifying it — the backend verifies; here it only decides when to
// refresh. Unreadable tokens count as valid and the backend's 401 triggers
// the refresh instead.
func (s *Session) accessExpiresSoonLocked() bool {
	l := s.m.claims.of(s.access)
	return l.ok && s.m.expiresSoon(l.iat, l.exp)
}

// expiresSoon decides whether a token issued at iat and expiring at exp is
// due for a refresh.
func (m *Manager) expiresSoon(iat, exp time.Time) bool {
	// Short-lived tokens (tests, strict deployments) are refreshed in their
	// last quarter rather than on every request.
	skew := min(m.opts.Skew, exp.Sub(iat)/4)
	return m.opts.Now().Add(skew).After(exp)
}

// lifetimes remembers the claims read from recent access tokens: every
// request of a session carries the same token for its whole life, and
// decoding it each time was a tenth of the /api proxy's own work.
//
// The cookie is the browser's to choose, so the cache is keyed by the
// token's SHA-256 (an entry costs the same whatever the cookie holds) and
// a token longer than maxTokenBytes is neither read nor remembered.
type lifetimes struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]tokenLifetime
}

type tokenLifetime struct {
	iat, exp time.Time
	ok       bool
}

// maxLifetimes bounds the number of entries: past it the map starts over.
const maxLifetimes = 4096

// maxTokenBytes is the longest access token whose claims are read. The
// backend's are about 500 bytes; a longer cookie is no token of its, and
// counts as unreadable (the backend's 401 then triggers the refresh).
const maxTokenBytes = 8 << 10

func (l *lifetimes) of(token string) tokenLifetime {
	if len(token) > maxTokenBytes {
		return tokenLifetime{}
	}
	key := sha256.Sum256([]byte(token))
	l.mu.Lock()
	got, found := l.seen[key]
	l.mu.Unlock()
	if found {
		return got
	}
	iat, exp, ok := lifetime(token)
	got = tokenLifetime{iat: iat, exp: exp, ok: ok}
	l.mu.Lock()
	if l.seen == nil || len(l.seen) >= maxLifetimes {
		l.seen = make(map[[sha256.Size]byte]tokenLifetime)
	}
	l.seen[key] = got
	l.mu.Unlock()
	return got
}

// lifetime reads the iat and exp claims; a token without iat counts as
// issued long ago.
func lifetime(jwt string) (iat, exp time.Time, ok bool) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return iat, exp, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return iat, exp, false
	}
	var claims struct {
		Iat int64 `json:"iat"`
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == 0 {
		return iat, exp, false
	}
	return time.Unix(claims.Iat, 0), time.Unix(claims.Exp, 0), true
}
