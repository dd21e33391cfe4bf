package model

import (
	"strings"
	"time"
)

// Sign-in throttling counts failures per key and locks a key for a while
// once it reaches its limit. The rules (which keys, what limits) belong to
// the auth service; the store keeps the counts where every replica sees
// them.

// Throttle keys: a kind and what it counts.
const (
	ThrottlePair  = "pair"  // one email from one address
	ThrottleEmail = "email" // one email from everywhere
	ThrottleIP    = "ip"    // one address, whatever the email

	ThrottleForgotEmail = "forgot-email" // password reset requests for one email
	ThrottleForgotIP    = "forgot-ip"    // password reset requests from one address
)

// ThrottleKey names what a counter counts: ThrottleKey(ThrottlePair,
// "ann@example.com", "192.0.2.1") is "pair:ann@example.com|192.0.2.1".
func ThrottleKey(kind string, parts ...string) string {
	return kind + ":" + strings.Join(parts, "|")
}

// ThrottleRule is one limit: Limit failures within Window lock the key
// for Lockout.
type ThrottleRule struct {
	Key     string
	Limit   int
	Window  time.Duration
	Lockout time.Duration
}

// Lockout is a key that is locked, as admins see it.
type Lockout struct {
	Key         string
	Kind        string // ThrottlePair, ThrottleEmail or ThrottleIP
	Email, IP   string // what the key names ("" when it does not)
	Failures    int
	LockedUntil time.Time
}

// ParseThrottleKey splits a key into its kind, email and address.
func ParseThrottleKey(key string) (kind, email, ip string) {
	kind, rest, _ := strings.Cut(key, ":")
	switch kind {
	case ThrottlePair:
		email, ip, _ = strings.Cut(rest, "|")
	case ThrottleEmail:
		email = rest
	case ThrottleIP, ThrottleForgotIP:
		ip = rest
	case ThrottleForgotEmail:
		email = rest
	}
	return kind, email, ip
}
