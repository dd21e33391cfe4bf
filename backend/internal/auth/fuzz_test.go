package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// FuzzVerifyRejectsAnythingNotIssued: nothing verifies unless it is a token
// signed with the service's key, spelled canonically (checked here with
// the standard library alone, as a reference). Mutations of a real token
// (the corpus holds one, re-spelled, stripped, and with other algs) never
// verify.
func FuzzVerifyRejectsAnythingNotIssued(f *testing.F) {
	clk := &testClock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	tk := newTestTokens(f, clk, key)
	issued, err := tk.Issue(Claims{UserID: uuid.MustParse("0192d3c4-0000-7000-8000-000000000001"), Role: "user",
		SessionID: uuid.MustParse("0192d3c4-0000-7000-8000-000000000002")})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(issued, ".")
	f.Add(issued[:len(issued)-1] + "A")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"x"}`)) + "." + parts[1] + "." + parts[2])
	f.Add("")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := tk.Verify(raw)
		if err == nil && !signedCanonically(raw, key.Public().(ed25519.PublicKey)) {
			t.Fatalf("a token the service never issued verified: %q", raw)
		}
	})
}

// signedCanonically is the reference: three canonical base64url parts, an
// EdDSA header, and an Ed25519 signature by pub over the first two.
func signedCanonically(raw string, pub ed25519.PublicKey) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	dec := base64.RawURLEncoding.Strict()
	head, err1 := dec.DecodeString(parts[0])
	_, err2 := dec.DecodeString(parts[1])
	sig, err3 := dec.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || !strings.Contains(string(head), `"EdDSA"`) {
		return false
	}
	return ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig)
}

// FuzzNormalizeEmailIsIdempotent: an accepted email is trimmed, lower-cased,
// at most 254 bytes, and normalising it again changes nothing.
func FuzzNormalizeEmailIsIdempotent(f *testing.F) {
	for _, s := range []string{"Ann@Example.COM", "  bob@example.com ", "a\"b@example.com", "a@b", "x@ÉXAMPLE.com",
		"<a@b.c>", "Ann <a@b.c>", "a@b.c\x00", strings.Repeat("a", 250) + "@b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		email, fe := NormalizeEmail(raw)
		if fe != nil {
			if email != "" || fe.Field != "email" || fe.Message == "" {
				t.Fatalf("a refusal without a reason or with a value: %q %+v", email, fe)
			}
			return
		}
		if email != strings.ToLower(strings.TrimSpace(email)) || len(email) > 254 || !utf8.ValidString(email) {
			t.Fatalf("accepted %q as %q: not normalised", raw, email)
		}
		again, fe := NormalizeEmail(email)
		if fe != nil || again != email {
			t.Fatalf("normalising %q again gave %q, %+v", email, again, fe)
		}
	})
}

// FuzzDecodeHashAcceptsOnlyBoundedHashes: whatever a stored hash holds,
// decoding it either fails or yields parameters within the bounds that
// keep a verification to seconds and megabytes, and encoding what was
// decoded gives back an equivalent hash.
func FuzzDecodeHashAcceptsOnlyBoundedHashes(f *testing.F) {
	h := NewHasher(PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	good, err := h.hash("correct horse")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(strings.Replace(good, "m=64", "m=4294967295", 1))
	f.Add(strings.Replace(good, "t=1", "t=0", 1))
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5")
	f.Add("$argon2i$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, encoded string) {
		p, salt, key, err := decodeHash(encoded)
		if err != nil {
			return
		}
		if p.MemoryKiB > 4<<20 || p.Time > 64 || p.Threads == 0 || len(key) > maxKeyLen || len(key) < 16 || len(salt) < 8 {
			t.Fatalf("accepted unbounded parameters %+v (salt %d, key %d bytes) from %q", p, len(salt), len(key), encoded)
		}
		re := encodeHash(p, salt, key)
		p2, salt2, key2, err := decodeHash(re)
		if err != nil || p2 != p || string(salt2) != string(salt) || string(key2) != string(key) {
			t.Fatalf("decode(encode(decode(%q))) differs: %v", encoded, err)
		}
	})
}
