package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are argon2id's cost parameters. They are encoded into every
// hash, so raising them later only affects new hashes, and old ones are
// re-hashed on the next successful sign-in.
type PasswordParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   int
	KeyLen    uint32
}

// DefaultPasswordParams are OWASP's recommended minimum for argon2id
// (19 MiB, t=2, p=1).
var DefaultPasswordParams = PasswordParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Hasher hashes and verifies passwords. Each hash needs MemoryKiB of RAM, so
// at most `slots` run at once: a flood of sign-ins queues instead of
// multiplying memory (500 concurrent logins would otherwise want ~10 GB).
type Hasher struct {
	params PasswordParams
	slots  chan struct{}
	dummy  string // a real hash of nothing, verified against for unknown emails
}

// NewHasher returns a Hasher running at most concurrency hashes at a time.
func NewHasher(p PasswordParams, concurrency int) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &Hasher{params: p, slots: make(chan struct{}, concurrency)}
	h.dummy, _ = h.hash("dummy password for timing equality")
	return h
}

// Hash returns the PHC-style encoding $argon2id$v=19$m=..,t=..,p=..$salt$key.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash(password)
}

func (h *Hasher) hash(password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return encodeHash(p, salt, key), nil
}

// encodeHash writes a hash in the PHC string format, with its parameters.
func encodeHash(p PasswordParams, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches encoded, and whether encoded uses
// weaker parameters than the current ones (re-hash it then).
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, stale bool, err error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key))) //nolint:gosec // len(key) ≤ maxKeyLen, checked by decodeHash
	ok = subtle.ConstantTimeCompare(got, key) == 1
	stale = p.MemoryKiB < h.params.MemoryKiB || p.Time < h.params.Time || p.Threads < h.params.Threads
	return ok, stale, nil
}

// VerifyDummy spends the same work as Verify on a hash that never matches, so
// an unknown email costs as much time as a wrong password.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	_, _, _ = h.Verify(ctx, password, h.dummy)
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting for a hashing slot: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.slots }

var errBadHash = errors.New("auth: malformed password hash")

// maxKeyLen bounds the key of a stored hash (ours are 32 bytes).
const maxKeyLen = 128

func within(n, lo, hi int) bool { return lo <= n && n <= hi }

func decodeHash(encoded string) (PasswordParams, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return PasswordParams{}, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return PasswordParams{}, nil, nil, errBadHash
	}
	var p PasswordParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return PasswordParams{}, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || !within(len(salt), 8, 64) || !within(len(key), 16, maxKeyLen) ||
		!within(int(p.Time), 1, 64) || !within(int(p.MemoryKiB), 8, 4<<20) || !within(int(p.Threads), 1, 255) {
		// Out of bounds is corrupt or hostile: verifying it could take
		// minutes or gigabytes.
		return PasswordParams{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
