package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Store is what the auth service needs from storage.
type Store interface {
	CreateUser(ctx context.Context, u model.User, audit *model.Audit) error
	UserByEmail(ctx context.Context, email string) (model.User, error)
	UserByID(ctx context.Context, id uuid.UUID) (model.User, error)
	UpdateUser(ctx context.Context, id uuid.UUID, change model.UserChange, audits ...*model.Audit) (model.User, error)
	CreateSession(ctx context.Context, ns model.NewSession) (uuid.UUID, error)
	Rotate(ctx context.Context, r model.Rotation) (model.Session, error)
	RevokeByToken(ctx context.Context, hash string) error
	SessionActive(ctx context.Context, family uuid.UUID) (owner uuid.UUID, live bool, err error)
	AppendAudit(ctx context.Context, a *model.Audit) error
	EnsureAdmin(ctx context.Context, u model.User) (bool, error)

	LockedUntil(ctx context.Context, keys []string) (map[string]time.Time, error)
	RecordFailures(ctx context.Context, rules []model.ThrottleRule) (map[string]time.Time, error)
	ClearFailures(ctx context.Context, keys []string) error

	KeyStore
}

// Config tunes the service.
type Config struct {
	RefreshTTL time.Duration
	// RefreshGrace is how long after a rotation the rotated token may come
	// back as a retry (0: never).
	RefreshGrace time.Duration
	// ShortTTL is the lifetime of a session signed in without "keep me
	// signed in" (default RefreshTTL).
	ShortTTL         time.Duration
	LoginMaxFailures int
	LoginLockout     time.Duration
	Now              func() time.Time
}

// Service holds the rules of registration, sign-in, refresh and sign-out.
type Service struct {
	store  Store
	keys   KeyStore
	hasher *Hasher
	tokens *Tokens
	cfg    Config
	uses   keyUses
}

// NewService wires the auth rules.
func NewService(st Store, hasher *Hasher, tokens *Tokens, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ShortTTL <= 0 {
		cfg.ShortTTL = cfg.RefreshTTL
	}
	return &Service{store: st, keys: st, hasher: hasher, tokens: tokens, cfg: cfg}
}

// Client describes who is calling, for sessions and the audit trail.
type Client struct {
	IP        string
	UserAgent string
	RequestID string
}

// NormalizeEmail trims and lower-cases an email and checks its form.
func NormalizeEmail(raw string) (string, *model.FieldError) {
	email := strings.ToLower(strings.TrimSpace(raw))
	fail := func(msg string) (string, *model.FieldError) {
		return "", &model.FieldError{Field: "email", Message: msg}
	}
	switch {
	case email == "":
		return fail("is required")
	case len(email) > 254:
		return fail("must be at most 254 characters")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" || strings.ContainsAny(email, " <>\"") {
		return fail("is not a valid email address")
	}
	return email, nil
}

// CheckPassword enforces the password rules (8–128 characters).
func CheckPassword(field, password string) *model.FieldError {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return &model.FieldError{Field: field, Message: "must be valid UTF-8"}
	case n < 8:
		return &model.FieldError{Field: field, Message: "must be at least 8 characters"}
	case n > 128:
		return &model.FieldError{Field: field, Message: "must be at most 128 characters"}
	}
	return nil
}

// Register creates a user account with role user.
func (s *Service) Register(ctx context.Context, req api.RegisterRequest) (model.User, error) {
	email, emailErr := NormalizeEmail(req.Email)
	var fields model.Fields
	if emailErr != nil {
		fields = append(fields, *emailErr)
	}
	if pwErr := CheckPassword("password", req.Password); pwErr != nil {
		fields = append(fields, *pwErr)
	}
	if err := fields.Err(); err != nil {
		return model.User{}, err
	}
	return s.CreateAccount(ctx, email, req.Password, api.RoleUser, &model.Audit{Action: api.AuditRegistered,
		TargetEmail: email, Detail: "registered through the API"})
}

// CreateAccount hashes password and stores a new account (also used by the
// operator command and admin bootstrap).
func (s *Service) CreateAccount(ctx context.Context, email, password, role string, audit *model.Audit) (model.User, error) {
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return model.User{}, err
	}
	u := model.NewUser(email, hash, role, s.cfg.Now())
	if audit != nil && audit.TargetID == "" {
		audit.TargetID = u.ID.String()
	}
	if err := s.store.CreateUser(ctx, u, audit); err != nil {
		return model.User{}, fmt.Errorf("auth: register: %w", err)
	}
	return u, nil
}

// EnsureAdmin creates an admin with these credentials when none exists yet,
// and reports whether it did.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return false, err
	}
	created, err := s.store.EnsureAdmin(ctx, model.NewUser(email, hash, api.RoleAdmin, s.cfg.Now()))
	if err != nil {
		return false, fmt.Errorf("auth: ensure admin: %w", err)
	}
	return created, nil
}

// Login checks credentials and starts a session. Unknown emails and wrong
// passwords look the same from outside: same answer, same hashing work.
func (s *Service) Login(ctx context.Context, rawEmail, password string, remember bool, client Client) (api.TokenPair, error) {
	email := strings.ToLower(strings.TrimSpace(rawEmail))
	if err := s.checkLocked(ctx, email, client.IP); err != nil {
		return api.TokenPair{}, err
	}
	u, err := s.store.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, model.ErrNotFound):
		s.hasher.VerifyDummy(ctx, password)
		return api.TokenPair{}, s.failPassword(ctx, email, "", client, model.ErrInvalidCredentials)
	case err != nil:
		return api.TokenPair{}, fmt.Errorf("auth: login: %w", err)
	}
	if u.PasswordHash == "" { // invited, no password set yet
		s.hasher.VerifyDummy(ctx, password)
		return api.TokenPair{}, s.failPassword(ctx, email, u.ID.String(), client, model.ErrInvalidCredentials)
	}
	ok, stale, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return api.TokenPair{}, fmt.Errorf("auth: login: verify: %w", err)
	}
	if !ok {
		return api.TokenPair{}, s.failPassword(ctx, email, u.ID.String(), client, model.ErrInvalidCredentials)
	}
	pair, err := s.startSession(ctx, u, !remember, client)
	if errors.Is(err, model.ErrAccountChanged) {
		// The password (or email, role, the account itself) changed while
		// it was being verified: what was verified is no longer the account.
		return api.TokenPair{}, fmt.Errorf("auth: login: %w: %w", model.ErrInvalidCredentials, err)
	} else if err != nil {
		return api.TokenPair{}, err
	}
	s.passed(ctx, email, client.IP)
	if stale {
		s.rehash(ctx, u.ID, password)
	}
	return pair, nil
}

// VerifyPassword checks a signed-in user's current password (before a
// change of email or password), throttled like a sign-in: a stolen access
// token must not make a password-guessing oracle.
func (s *Service) VerifyPassword(ctx context.Context, u model.User, password string, client Client) error {
	if err := s.checkLocked(ctx, u.Email, client.IP); err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return fmt.Errorf("auth: verify password: %w", err)
	}
	if !ok {
		return s.failPassword(ctx, u.Email, u.ID.String(), client, model.ErrWrongPassword)
	}
	s.passed(ctx, u.Email, client.IP)
	return nil
}

// rehash upgrades a hash made with weaker parameters; failure is harmless.
func (s *Service) rehash(ctx context.Context, id uuid.UUID, password string) {
	if hash, err := s.hasher.Hash(ctx, password); err == nil {
		_, _ = s.store.UpdateUser(ctx, id, model.UserChange{PasswordHash: &hash})
	}
}

func (s *Service) startSession(ctx context.Context, u model.User, short bool, client Client) (api.TokenPair, error) {
	refresh, hash, err := newRefreshToken()
	if err != nil {
		return api.TokenPair{}, err
	}
	ttl, kind := s.cfg.RefreshTTL, "kept signed in"
	if short {
		ttl, kind = s.cfg.ShortTTL, "for this browser session"
	}
	sid, err := s.store.CreateSession(ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: hash,
		ExpiresAt: s.cfg.Now().UTC().Add(ttl), UserAgent: client.UserAgent, IP: client.IP, Short: short,
		Audit: &model.Audit{ActorID: u.ID.String(), Action: api.AuditLoginSucceeded, TargetID: u.ID.String(),
			Detail: fmt.Sprintf("ip=%s %s", client.IP, kind), RequestID: client.RequestID}})
	if err != nil {
		return api.TokenPair{}, fmt.Errorf("auth: start session: %w", err)
	}
	return s.pair(Claims{UserID: u.ID, Role: u.Role, SessionID: sid}, refresh)
}

// Refresh rotates a refresh token and issues a new pair.
func (s *Service) Refresh(ctx context.Context, refreshToken string, client Client) (api.TokenPair, error) {
	if refreshToken == "" {
		return api.TokenPair{}, model.Invalid(model.Field("refresh_token", "is required"))
	}
	next, nextHash, err := newRefreshToken()
	if err != nil {
		return api.TokenPair{}, err
	}
	se, err := s.store.Rotate(ctx, model.Rotation{OldHash: hashToken(refreshToken), NewHash: nextHash,
		ExpiresAt: s.cfg.Now().UTC().Add(s.cfg.RefreshTTL), ShortExpiresAt: s.cfg.Now().UTC().Add(s.cfg.ShortTTL),
		UserAgent: client.UserAgent, IP: client.IP, RequestID: client.RequestID, RetryGrace: s.cfg.RefreshGrace})
	if err != nil { // model.ErrTokenInvalid, model.ErrTokenReused or a fault
		return api.TokenPair{}, fmt.Errorf("auth: refresh: %w", err)
	}
	u, err := s.store.UserByID(ctx, se.UserID)
	if err != nil {
		return api.TokenPair{}, fmt.Errorf("auth: refresh: %w: the session's user: %w", model.ErrTokenInvalid, err)
	}
	return s.pair(Claims{UserID: u.ID, Role: u.Role, SessionID: se.ID}, next)
}

// Logout ends the session of refreshToken; unknown tokens are ignored.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	if refreshToken == "" {
		return model.Invalid(model.Field("refresh_token", "is required"))
	}
	if err := s.store.RevokeByToken(ctx, hashToken(refreshToken)); err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	return nil
}

func (s *Service) pair(c Claims, refresh string) (api.TokenPair, error) {
	access, err := s.tokens.Issue(c)
	if err != nil {
		return api.TokenPair{}, err
	}
	return api.TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "bearer",
		ExpiresIn: int(s.tokens.TTL() / time.Second)}, nil
}

// Principal is the caller of an authenticated request, as of now: the role
// comes from the user's current row, not from the token.
type Principal struct {
	UserID    uuid.UUID
	Email     string
	Role      string
	SessionID uuid.UUID // uuid.Nil for an API key
	// KeyID is the API key the caller authenticated with (uuid.Nil for an
	// access token), with its scopes and own rate limit.
	KeyID                uuid.UUID
	KeyScopes            []string
	KeyRequestsPerMinute int
}

// IsAdmin reports whether the caller is an admin.
func (p Principal) IsAdmin() bool { return p.Role == api.RoleAdmin }

// ViaKey reports whether the caller authenticated with an API key.
func (p Principal) ViaKey() bool { return p.KeyID != uuid.Nil }

// Authenticate turns a bearer credential (an access token, or an API key
// used from ip) into the current principal.
func (s *Service) Authenticate(ctx context.Context, bearer, ip string) (Principal, error) {
	if IsKey(bearer) {
		return s.authenticateKey(ctx, bearer, ip)
	}
	return s.authenticateToken(ctx, bearer)
}

// authenticateToken checks an access token: it must verify, its session
// must be live and its user must exist; all three are answered from memory.
func (s *Service) authenticateToken(ctx context.Context, bearer string) (Principal, error) {
	c, err := s.tokens.Verify(bearer)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", model.ErrAccessTokenInvalid, err)
	}
	owner, live, err := s.store.SessionActive(ctx, c.SessionID)
	if err != nil {
		return Principal{}, fmt.Errorf("auth: check session: %w", err)
	}
	if !live || owner != c.UserID {
		return Principal{}, model.ErrSessionEnded
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, model.ErrNotFound) {
		return Principal{}, model.ErrSessionEnded
	} else if err != nil {
		return Principal{}, fmt.Errorf("auth: load user: %w", err)
	}
	return Principal{UserID: u.ID, Email: u.Email, Role: u.Role, SessionID: c.SessionID}, nil
}

// newRefreshToken returns 256 random bits, URL-safe, and the hash stored in
// its place.
func newRefreshToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("auth: refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token), nil
}

// hashToken is SHA-256: refresh tokens carry 256 bits of entropy, so a fast
// hash is enough (no dictionary to guard against), and lookups stay cheap.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
