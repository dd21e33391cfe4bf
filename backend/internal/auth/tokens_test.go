package auth

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestTokens(t testing.TB, clk *testClock, key ed25519.PrivateKey, previous ...ed25519.PublicKey) *Tokens {
	t.Helper()
	tk, err := NewTokens(TokenConfig{Issuer: "https://issuer.test", Audience: "api", TTL: 15 * time.Minute, Skew: 30 * time.Second, Now: clk.now}, key, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

var testClaims = Claims{UserID: uuid.MustParse("01929000-0000-7000-8000-000000000001"), Role: "user", SessionID: uuid.MustParse("01929000-0000-7000-8000-0000000000aa")}

func TestTokensRoundTrip(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	tk := newTestTokens(t, clk, newKey(t))
	raw, err := tk.Issue(testClaims)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tk.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != testClaims.UserID || c.SessionID != testClaims.SessionID || c.Role != "user" || !c.ExpiresAt.Equal(clk.t.Add(15*time.Minute)) {
		t.Fatalf("claims %+v", c)
	}
	var head map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	_ = json.Unmarshal(b, &head)
	if head["alg"] != "EdDSA" || head["kid"] == "" {
		t.Fatalf("header %v", head)
	}
}

// forge builds a token with any header and claims, signed by sign.
func forge(header, claims map[string]any, sign func(input []byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

func TestTokensAreRejectedUnlessEverythingChecksOut(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := &testClock{t: now}
	key := newKey(t)
	tk := newTestTokens(t, clk, key)
	kid := tk.signer.KeyID()
	goodClaims := func() map[string]any {
		return map[string]any{"iss": "https://issuer.test", "aud": []string{"api"}, "sub": testClaims.UserID.String(),
			"sid": testClaims.SessionID.String(), "role": "admin", "jti": "j1", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	ed := func(k ed25519.PrivateKey) func([]byte) []byte {
		return func(in []byte) []byte { return ed25519.Sign(k, in) }
	}
	with := func(k string, v any) map[string]any { c := goodClaims(); c[k] = v; return c }
	without := func(k string) map[string]any { c := goodClaims(); delete(c, k); return c }
	edHeader := map[string]any{"alg": "EdDSA", "kid": kid, "typ": "JWT"}

	// The control: a hand-made token with good claims verifies, so each
	// failure below is caused by the one thing it changes.
	if _, err := tk.Verify(forge(edHeader, goodClaims(), ed(key))); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	cases := map[string]string{
		"alg none": forge(map[string]any{"alg": "none", "kid": kid}, goodClaims(), func([]byte) []byte { return nil }),
		"alg HS256 with the public key as secret": forge(map[string]any{"alg": "HS256", "kid": kid}, goodClaims(), func(in []byte) []byte {
			m := hmac.New(sha256.New, pub)
			m.Write(in)
			return m.Sum(nil)
		}),
		"no kid":           forge(map[string]any{"alg": "EdDSA"}, goodClaims(), ed(key)),
		"unknown kid":      forge(map[string]any{"alg": "EdDSA", "kid": "someone-else"}, goodClaims(), ed(key)),
		"other key":        forge(edHeader, goodClaims(), ed(newKey(t))),
		"wrong iss":        forge(edHeader, with("iss", "https://evil.test"), ed(key)),
		"wrong aud":        forge(edHeader, with("aud", []string{"other"}), ed(key)),
		"expired":          forge(edHeader, with("exp", now.Add(-time.Minute).Unix()), ed(key)),
		"not yet valid":    forge(edHeader, with("nbf", now.Add(5*time.Minute).Unix()), ed(key)),
		"issued in future": forge(edHeader, with("iat", now.Add(5*time.Minute).Unix()), ed(key)),
		"no exp":           forge(edHeader, without("exp"), ed(key)),
		"no sid":           forge(edHeader, without("sid"), ed(key)),
		"no jti":           forge(edHeader, without("jti"), ed(key)),
		"sub not an id":    forge(edHeader, with("sub", "root"), ed(key)),
		"crit header":      forge(map[string]any{"alg": "EdDSA", "kid": kid, "crit": []string{"exp"}}, goodClaims(), ed(key)),
	}
	good := forge(edHeader, goodClaims(), ed(key))
	parts := strings.Split(good, ".")
	cases["tampered payload"] = parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + "." + parts[2]
	cases["truncated signature"] = parts[0] + "." + parts[1] + "." + parts[2][:10]
	cases["two parts"] = parts[0] + "." + parts[1]
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			if c, err := tk.Verify(raw); err == nil {
				t.Fatalf("accepted: %+v", c)
			}
		})
	}
}

func TestSmallClockSkewIsTolerated(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	tk := newTestTokens(t, clk, newKey(t))
	raw, _ := tk.Issue(testClaims)
	clk.t = clk.t.Add(15*time.Minute + 20*time.Second)
	if _, err := tk.Verify(raw); err != nil {
		t.Fatalf("20s past exp with 30s skew: %v", err)
	}
	clk.t = clk.t.Add(time.Minute)
	if _, err := tk.Verify(raw); err == nil {
		t.Fatal("accepted long after expiry (cached verification must still expire)")
	}
}

func TestPreviousKeysVerifyDuringRotation(t *testing.T) {
	clk := &testClock{t: time.Now()}
	oldKey, newKeyPair := newKey(t), newKey(t)
	before := newTestTokens(t, clk, oldKey)
	oldToken, _ := before.Issue(testClaims)

	after := newTestTokens(t, clk, newKeyPair, oldKey.Public().(ed25519.PublicKey))
	if _, err := after.Verify(oldToken); err != nil {
		t.Fatalf("token of the previous key refused during rotation: %v", err)
	}
	newToken, _ := after.Issue(testClaims)
	if _, err := before.Verify(newToken); err == nil {
		t.Fatal("old process accepted a token of a key it does not have")
	}
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(after.JWKS(), &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS during rotation: %s", after.JWKS())
	}
	for _, k := range set.Keys {
		if k["d"] != nil {
			t.Fatal("JWKS leaks a private key")
		}
	}
	done := newTestTokens(t, clk, newKeyPair)
	if _, err := done.Verify(oldToken); err == nil {
		t.Fatal("token of a retired key accepted")
	}
}
