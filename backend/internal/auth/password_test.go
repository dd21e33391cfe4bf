package auth

import (
	"context"
	"strings"
	"testing"
)

var cheapParams = PasswordParams{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestPasswordHashEncodesItsParameters(t *testing.T) {
	h := NewHasher(DefaultPasswordParams, 1)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("encoding %q lacks OWASP's parameters", enc)
	}
	if ok, stale, err := h.Verify(ctx, "correct horse", enc); !ok || stale || err != nil {
		t.Fatalf("verify: %v %v %v", ok, stale, err)
	}
	if ok, _, _ := h.Verify(ctx, "correct horsE", enc); ok {
		t.Fatal("wrong password accepted")
	}
	other, _ := h.Hash(ctx, "correct horse")
	if other == enc {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
}

func TestWeakerHashesAreReportedStale(t *testing.T) {
	ctx := context.Background()
	old, _ := NewHasher(cheapParams, 1).Hash(ctx, "pw-12345678")
	ok, stale, err := NewHasher(DefaultPasswordParams, 1).Verify(ctx, "pw-12345678", old)
	if !ok || !stale || err != nil {
		t.Fatalf("old hash: ok=%v stale=%v err=%v", ok, stale, err)
	}
}

func TestMalformedHashesAreErrors(t *testing.T) {
	h := NewHasher(cheapParams, 1)
	for _, enc := range []string{"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=18$m=1024,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=x$c2FsdA$a2V5", "$argon2id$v=19$m=1024,t=1,p=1$!!$a2V5"} {
		if ok, _, err := h.Verify(context.Background(), "pw", enc); ok || err == nil {
			t.Errorf("%q: ok=%v err=%v", enc, ok, err)
		}
	}
}

func TestHashingWaitsForASlotAndHonoursCancellation(t *testing.T) {
	h := NewHasher(cheapParams, 1)
	h.slots <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); err == nil {
		t.Fatal("hash ran without a free slot")
	}
	<-h.slots
	if _, err := h.Hash(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPasswordHash(b *testing.B) {
	h := NewHasher(DefaultPasswordParams, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "benchmark password"); err != nil {
			b.Fatal(err)
		}
	}
}
