package session

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// FuzzLoadNeverInventsASession: whatever cookies a browser sends, loading
// the session does not panic, and every token the session uses came
// either verbatim from the browser's cookies (for the backend to judge) or
// from the backend's refresh answer: the frontend never makes one up, never
// pairs an access token with another session's binding, and only ever
// presents the refresh token the cookie held.
func FuzzLoadNeverInventsASession(f *testing.F) {
	issuedAccess := jwtExpiring(time.Now().Add(time.Hour), "issued")
	live := jwtExpiring(time.Now().Add(time.Hour), "cookie")
	for _, seed := range [][2]string{
		{"", ""},
		{bound(live), bound("issued-refresh")},
		{bound(live), bound("unknown-refresh")},
		{"planted-binding-abcdef~" + live, bound("issued-refresh")},
		{live, "issued-refresh"},
		{bound(live), ""},
		{live, ""},
		{"~", "~"},
		{testBinding + "~", testBinding + "~"},
		{bound(strings.Repeat("a.", 5000)), bound("issued-refresh")},
		{bound("e30.e30.x"), bound("issued-refresh")},
		{"a;b=c", "\"quoted\""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, access, refresh string) {
		var presented []string
		m := NewManager(func(ctx context.Context, token, ip, ua string) (*api.TokenPair, error) {
			presented = append(presented, token)
			if token == "issued-refresh" {
				return &api.TokenPair{AccessToken: issuedAccess, RefreshToken: "issued-refresh-2", ExpiresIn: 900}, nil
			}
			return nil, &api.Problem{Status: http.StatusUnauthorized}
		}, Options{})
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", accessCookie+"="+access+"; "+refreshCookie+"="+refresh)
		// What the browser sent, as net/http reads it.
		var sentAccess, sentRefresh string
		if c, err := r.Cookie(accessCookie); err == nil {
			sentAccess = c.Value
		}
		if c, err := r.Cookie(refreshCookie); err == nil {
			sentRefresh = c.Value
		}
		prefix := func(v string) string { return v[:min(len(v), bindingLen+1)] }

		w := httptest.NewRecorder()
		s := m.Load(w, r, "192.0.2.1")
		if b := s.Binding(); b != "" {
			source := sentRefresh
			if source == "" {
				source = sentAccess
			}
			if len(b) != bindingLen || prefix(source) != b+"~" {
				t.Fatalf("binding %q is not the one the cookies carry (access %q, refresh %q)", b, sentAccess, sentRefresh)
			}
		}
		if rt := s.RefreshToken(); rt != "" && !strings.HasSuffix(sentRefresh, rt) {
			t.Fatalf("refresh token %q is not the cookie's %q", rt, sentRefresh)
		}

		tok, err := s.AccessToken(context.Background())
		if err == nil {
			fromCookie := len(sentAccess) > bindingLen+1 && tok == sentAccess[bindingLen+1:] &&
				(sentRefresh == "" || prefix(sentRefresh) == prefix(sentAccess))
			fromBackend := tok == issuedAccess && len(presented) == 1
			if !fromCookie && !fromBackend {
				t.Fatalf("AccessToken %q came from neither the cookies (access %q, refresh %q) nor the backend (%q)",
					tok, sentAccess, sentRefresh, presented)
			}
		}
		for _, p := range presented {
			if p == "" || !strings.HasSuffix(sentRefresh, p) {
				t.Fatalf("presented refresh token %q, but the cookie held %q", p, sentRefresh)
			}
		}
		for _, c := range w.Result().Cookies() {
			if _, v := splitCookie(c.Value); v != "" && v != issuedAccess && v != "issued-refresh-2" {
				t.Fatalf("set cookie %s=%q: a token the backend did not issue", c.Name, c.Value)
			}
		}
	})
}

// FuzzTokenLifetime: the claims cache answers exactly what decoding the
// token answers, for any cookie within the size bound, and nothing for a
// longer one; a token built with an exp claim is read back exactly.
func FuzzTokenLifetime(f *testing.F) {
	f.Add("", int64(0), int64(0))
	f.Add("a.b.c", int64(1700000000), int64(1700000900))
	f.Add("e30.eyJleHAiOjF9.x", int64(-1), int64(1))
	f.Add(strings.Repeat("x", maxTokenBytes+1), int64(5), int64(1<<40))
	f.Fuzz(func(t *testing.T, token string, iat, exp int64) {
		var l lifetimes
		got := l.of(token)
		if len(token) > maxTokenBytes {
			if got.ok || len(l.seen) != 0 {
				t.Fatalf("a %d-byte token was read (%+v) or kept (%d entries)", len(token), got, len(l.seen))
			}
		} else {
			wantIat, wantExp, wantOK := lifetime(token)
			if got.ok != wantOK || !got.iat.Equal(wantIat) || !got.exp.Equal(wantExp) {
				t.Fatalf("cache says %+v, decoding says %v %v %v", got, wantIat, wantExp, wantOK)
			}
			if again := l.of(token); again != got {
				t.Fatalf("second read %+v, first %+v", again, got)
			}
		}
		if got.ok && got.exp.Unix() == 0 {
			t.Fatalf("a token without exp counts as readable: %q", token)
		}

		enc := base64.RawURLEncoding.EncodeToString
		built := enc([]byte(`{"alg":"EdDSA"}`)) + "." + enc(fmt.Appendf(nil, `{"iat":%d,"exp":%d}`, iat, exp)) + ".sig"
		bi, be, ok := lifetime(built)
		if ok != (exp != 0) || (ok && (bi.Unix() != iat || be.Unix() != exp)) {
			t.Fatalf("token with iat %d exp %d read as %v %v %v", iat, exp, bi.Unix(), be.Unix(), ok)
		}
	})
}
