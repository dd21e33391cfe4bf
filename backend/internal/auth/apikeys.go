package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// API keys: "dg_" followed by 43 base62 characters (32 random bytes, 256
// bits). Only their SHA-256 is stored (a fast hash suits random secrets:
// there is no dictionary to guard against), and the first characters are
// kept for display.
const (
	KeyPrefix       = "dg_"
	keySecretChars  = 43 // ⌈256 / log2(62)⌉
	KeyDisplayChars = 11 // "dg_" and 8 characters of the secret
)

// KeyStore is what key authentication needs from storage.
type KeyStore interface {
	APIKeyByHash(ctx context.Context, hash string) (model.APIKey, error)
	RecordKeyUse(ctx context.Context, uses []model.KeyUse) error
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewKeySecret returns a new key secret, its display prefix and the hash
// stored in its place.
func NewKeySecret() (secret, prefix, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", "", fmt.Errorf("auth: key secret: %w", err)
	}
	n := new(big.Int).SetBytes(b)
	out := make([]byte, keySecretChars)
	sixtyTwo := big.NewInt(62)
	mod := new(big.Int)
	for i := keySecretChars - 1; i >= 0; i-- {
		n.DivMod(n, sixtyTwo, mod)
		out[i] = base62[mod.Int64()]
	}
	secret = KeyPrefix + string(out)
	return secret, secret[:KeyDisplayChars], HashKey(secret), nil
}

// HashKey is what the store keeps of a key secret.
func HashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// IsKey reports whether a bearer credential is an API key rather than a JWT.
func IsKey(bearer string) bool { return strings.HasPrefix(bearer, KeyPrefix) }

// authenticateKey turns an API key into its user's principal, as of now:
// the key must be live and not expired, and its user must exist. Both are
// answered from memory.
func (s *Service) authenticateKey(ctx context.Context, secret, ip string) (Principal, error) {
	if len(secret) != len(KeyPrefix)+keySecretChars {
		return Principal{}, model.ErrAPIKeyInvalid
	}
	k, err := s.keys.APIKeyByHash(ctx, HashKey(secret))
	if errors.Is(err, model.ErrNotFound) {
		return Principal{}, model.ErrAPIKeyInvalid
	} else if err != nil {
		return Principal{}, fmt.Errorf("auth: look up API key: %w", err)
	}
	now := s.cfg.Now()
	if !k.Usable(now) {
		return Principal{}, model.ErrAPIKeyInvalid
	}
	u, err := s.store.UserByID(ctx, k.UserID)
	if errors.Is(err, model.ErrNotFound) {
		return Principal{}, model.ErrAPIKeyInvalid
	} else if err != nil {
		return Principal{}, fmt.Errorf("auth: load user: %w", err)
	}
	s.uses.note(model.KeyUse{KeyID: k.ID, At: now, IP: ip})
	return Principal{UserID: u.ID, Email: u.Email, Role: u.Role, KeyID: k.ID, KeyScopes: k.Scopes,
		KeyRequestsPerMinute: k.RequestsPerMinute}, nil
}

// keyUses coalesces key uses: the latest per key, written in one batch
// every interval (a write per request would cost the store a commit each).
// Noting a use takes no lock: each key has a slot of atomics, found in a
// sync.Map (read-mostly, so its lookups do not contend).
type keyUses struct {
	slots sync.Map // uuid.UUID → *useSlot
}

type useSlot struct {
	at atomic.Int64 // Unix nanoseconds of the latest use not yet taken; 0: none
	ip atomic.Pointer[string]
}

func (u *keyUses) note(use model.KeyUse) {
	v, ok := u.slots.Load(use.KeyID)
	if !ok {
		v, _ = u.slots.LoadOrStore(use.KeyID, &useSlot{})
	}
	slot := v.(*useSlot)
	if ip := slot.ip.Load(); ip == nil || *ip != use.IP {
		slot.ip.Store(&use.IP)
	}
	slot.at.Store(use.At.UnixNano())
}

// take returns the uses noted since the last take. Slots stay (about a
// hundred bytes per key ever used by this process): deleting an idle one
// could lose a use noted on it at that instant.
func (u *keyUses) take() []model.KeyUse {
	var out []model.KeyUse
	u.slots.Range(func(k, v any) bool {
		slot := v.(*useSlot)
		at := slot.at.Swap(0)
		if at == 0 {
			return true
		}
		ip := ""
		if p := slot.ip.Load(); p != nil {
			ip = *p
		}
		out = append(out, model.KeyUse{KeyID: k.(uuid.UUID), At: time.Unix(0, at).UTC(), IP: ip})
		return true
	})
	return out
}

// DefaultKeyUseInterval is how often key uses are written.
const DefaultKeyUseInterval = 10 * time.Second

// FlushKeyUses writes the key uses noted since the last flush.
func (s *Service) FlushKeyUses(ctx context.Context) error {
	uses := s.uses.take()
	if len(uses) == 0 {
		return nil
	}
	if err := s.keys.RecordKeyUse(ctx, uses); err != nil {
		return fmt.Errorf("auth: record API key uses: %w", err)
	}
	return nil
}

// RecordKeyUses writes key uses every interval until stop is called; stop
// writes what is left and returns once that is done.
func (s *Service) RecordKeyUses(interval time.Duration, onError func(error)) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-quit:
				if err := s.FlushKeyUses(context.Background()); err != nil {
					onError(err)
				}
				return
			}
			if err := s.FlushKeyUses(context.Background()); err != nil {
				onError(err)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}
