package auth

import (
	"testing"
	"time"
)

func BenchmarkTokenIssue(b *testing.B) {
	tk := newTestTokens(b, &testClock{t: time.Now()}, newKey(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.Issue(testClaims); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenVerifyFirstSight measures a full signature check (a token
// not seen before).
func BenchmarkTokenVerifyFirstSight(b *testing.B) {
	tk := newTestTokens(b, &testClock{t: time.Now()}, newKey(b))
	raw, _ := tk.Issue(testClaims)
	b.ReportAllocs()
	for b.Loop() {
		tk.checked = newVerifiedCache(1)
		if _, err := tk.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenVerifyRepeat measures the common case: a token presented
// again within its lifetime.
func BenchmarkTokenVerifyRepeat(b *testing.B) {
	tk := newTestTokens(b, &testClock{t: time.Now()}, newKey(b))
	raw, _ := tk.Issue(testClaims)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}
