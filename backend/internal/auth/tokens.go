package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Claims is what an access token asserts.
type Claims struct {
	UserID    uuid.UUID
	Role      string
	SessionID uuid.UUID // sid: the refresh-token family
	ExpiresAt time.Time
}

// TokenConfig configures access tokens.
type TokenConfig struct {
	Issuer   string
	Audience string
	TTL      time.Duration
	// Skew is the clock difference tolerated on exp, nbf and iat.
	Skew time.Duration
	Now  func() time.Time
}

// Tokens issues and verifies EdDSA access tokens. It signs with the current
// key and verifies with it and any previous keys (a rotation in progress);
// every key has a kid, and a token must name one.
type Tokens struct {
	cfg     TokenConfig
	signer  jwk.Key
	verify  jwk.Set
	public  []byte // the JWKS document
	kids    map[string]bool
	checked *verifiedCache
}

var errInvalidToken = errors.New("auth: invalid access token")

// NewTokens builds the signer from current and the verification set from
// current plus previous.
func NewTokens(cfg TokenConfig, current ed25519.PrivateKey, previous ...ed25519.PublicKey) (*Tokens, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	signer, err := jwk.FromRaw(current)
	if err != nil {
		return nil, fmt.Errorf("auth: signing key: %w", err)
	}
	if err := withKeyID(signer); err != nil {
		return nil, err
	}
	t := &Tokens{cfg: cfg, signer: signer, verify: jwk.NewSet(), kids: map[string]bool{}, checked: newVerifiedCache(50_000)}
	for _, pub := range append([]ed25519.PublicKey{current.Public().(ed25519.PublicKey)}, previous...) {
		k, err := jwk.FromRaw(pub)
		if err != nil {
			return nil, fmt.Errorf("auth: verification key: %w", err)
		}
		if err := withKeyID(k); err != nil {
			return nil, err
		}
		if t.kids[k.KeyID()] {
			continue
		}
		_ = k.Set(jwk.KeyUsageKey, jwk.ForSignature)
		t.kids[k.KeyID()] = true
		if err := t.verify.AddKey(k); err != nil {
			return nil, fmt.Errorf("auth: verification key: %w", err)
		}
	}
	if t.public, err = json.Marshal(t.verify); err != nil {
		return nil, fmt.Errorf("auth: encode JWKS: %w", err)
	}
	return t, nil
}

// withKeyID names a key by its RFC 7638 thumbprint and pins its algorithm.
func withKeyID(k jwk.Key) error {
	if err := jwk.AssignKeyID(k); err != nil {
		return fmt.Errorf("auth: key id: %w", err)
	}
	return k.Set(jwk.AlgorithmKey, jwa.EdDSA)
}

// JWKS is the public key set, as served at /.well-known/jwks.json.
func (t *Tokens) JWKS() []byte { return t.public }

// TTL is how long an access token lives.
func (t *Tokens) TTL() time.Duration { return t.cfg.TTL }

// Issue signs an access token for user in session sid.
func (t *Tokens) Issue(c Claims) (string, error) {
	now := t.cfg.Now().Truncate(time.Second)
	tok, err := jwt.NewBuilder().
		Issuer(t.cfg.Issuer).
		Audience([]string{t.cfg.Audience}).
		Subject(c.UserID.String()).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(t.cfg.TTL)).
		JwtID(uuid.NewString()).
		Claim("role", c.Role).
		Claim("sid", c.SessionID.String()).
		Build()
	if err != nil {
		return "", fmt.Errorf("auth: build token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA, t.signer))
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return string(signed), nil
}

// Verify checks an access token strictly: alg EdDSA and nothing else, a
// known kid, the signature, iss, aud, exp, nbf and iat (with the configured
// skew), and the presence of sub, sid and jti. Tokens already verified are
// remembered until they expire, so a repeat costs a map lookup instead of a
// signature check.
func (t *Tokens) Verify(raw string) (Claims, error) {
	now := t.cfg.Now()
	if c, ok := t.checked.get(raw); ok {
		if now.Before(c.ExpiresAt.Add(t.cfg.Skew)) {
			return c, nil
		}
		return Claims{}, errInvalidToken
	}
	if err := t.checkHeader(raw); err != nil {
		return Claims{}, err
	}
	tok, err := jwt.ParseString(raw,
		jwt.WithKeySet(t.verify),
		jwt.WithValidate(true),
		jwt.WithIssuer(t.cfg.Issuer),
		jwt.WithAudience(t.cfg.Audience),
		jwt.WithAcceptableSkew(t.cfg.Skew),
		jwt.WithClock(jwt.ClockFunc(t.cfg.Now)),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
		jwt.WithRequiredClaim("sid"),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", errInvalidToken, err)
	}
	c, err := claimsOf(tok)
	if err != nil {
		return Claims{}, err
	}
	t.checked.put(raw, c)
	return c, nil
}

// checkHeader refuses any alg but EdDSA and any kid we do not hold before a
// signature is even looked at (alg confusion, "none"). Every part must be
// canonical base64url: a lenient decoder accepts other spellings of the
// same signature (the last character's unused bits), which would make one
// token many strings.
func (t *Tokens) checkHeader(raw string) error {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return errInvalidToken
	}
	for _, p := range parts[1:] {
		if _, err := strictBase64.DecodeString(p); err != nil {
			return errInvalidToken
		}
	}
	b, err := strictBase64.DecodeString(parts[0])
	if err != nil {
		return errInvalidToken
	}
	var h struct {
		Alg  string   `json:"alg"`
		Kid  string   `json:"kid"`
		Crit []string `json:"crit"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Alg != jwa.EdDSA.String() || !t.kids[h.Kid] || h.Crit != nil {
		return errInvalidToken
	}
	return nil
}

// strictBase64 refuses non-zero unused bits (RFC 4648, 3.5).
var strictBase64 = base64.RawURLEncoding.Strict()

func claimsOf(tok jwt.Token) (Claims, error) {
	user, err := uuid.Parse(tok.Subject())
	if err != nil {
		return Claims{}, fmt.Errorf("%w: sub is not a user id", errInvalidToken)
	}
	sidValue, _ := tok.Get("sid")
	sidText, _ := sidValue.(string)
	sid, err := uuid.Parse(sidText)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: sid is not a session id", errInvalidToken)
	}
	roleValue, _ := tok.Get("role")
	role, _ := roleValue.(string)
	return Claims{UserID: user, Role: role, SessionID: sid, ExpiresAt: tok.Expiration()}, nil
}

// verifiedCache remembers verified tokens. It is bounded: when full it is
// emptied, which costs a signature check per token afterwards, nothing more.
type verifiedCache struct {
	mu  sync.RWMutex
	max int
	m   map[string]Claims
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, m: make(map[string]Claims)}
}

func (c *verifiedCache) get(raw string) (Claims, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[raw]
	return v, ok
}

func (c *verifiedCache) put(raw string, claims Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[raw] = claims
}
