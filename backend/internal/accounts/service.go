// Package accounts holds what people need to get into their accounts and
// what admins need to run them: password recovery by mailed one-time
// links, invitations, admin-issued reset links and signing a user out
// everywhere. Links carry a one-time token stored only as a hash.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/mail"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Store is what accounts need from storage.
type Store interface {
	UserByEmail(ctx context.Context, email string) (model.User, error)
	UserByID(ctx context.Context, id uuid.UUID) (model.User, error)
	CreateUser(ctx context.Context, u model.User, audit *model.Audit) error
	CreateAccountToken(ctx context.Context, tok model.AccountToken, audit *model.Audit) error
	RedeemAccountToken(ctx context.Context, hash, purpose, passwordHash string, audit *model.Audit) (model.User, error)
	RevokeOtherSessions(ctx context.Context, user, keep uuid.UUID) error
	AppendAudit(ctx context.Context, a *model.Audit) error
	LockedUntil(ctx context.Context, keys []string) (map[string]time.Time, error)
	RecordFailures(ctx context.Context, rules []model.ThrottleRule) (map[string]time.Time, error)
}

// Config tunes the service.
type Config struct {
	// PublicURL is the frontend's address; links point at its /reset page.
	PublicURL string
	// ResetTTL is a mailed reset link's life (30 minutes); AdminResetTTL
	// that of a link an admin hands over (a day); InviteTTL an invitation's
	// (7 days).
	ResetTTL, AdminResetTTL, InviteTTL time.Duration
	Now                                func() time.Time
	// PasswordChanged, when set, is told after a link set a password (the
	// initial admin's password file goes once it changed).
	PasswordChanged func(ctx context.Context, user model.User)
}

// Service holds the rules.
type Service struct {
	store  Store
	hasher *auth.Hasher
	mailer mail.Sender // nil: no mail configured
	cfg    Config
	log    *slog.Logger

	// forgot requests are served in the background (see Forgot).
	work sync.WaitGroup
}

// NewService wires the accounts service; mailer may be nil.
func NewService(st Store, hasher *auth.Hasher, mailer mail.Sender, cfg Config, logger *slog.Logger) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ResetTTL <= 0 {
		cfg.ResetTTL = 30 * time.Minute
	}
	if cfg.AdminResetTTL <= 0 {
		cfg.AdminResetTTL = 24 * time.Hour
	}
	if cfg.InviteTTL <= 0 {
		cfg.InviteTTL = 7 * 24 * time.Hour
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, hasher: hasher, mailer: mailer, cfg: cfg, log: logger}
}

// Close waits for mail being sent.
func (s *Service) Close() { s.work.Wait() }

// Capabilities says what the sign-in pages may offer.
func (s *Service) Capabilities() api.AuthCapabilities {
	return api.AuthCapabilities{PasswordRecovery: s.mailer != nil}
}

// forgotMessage is the one answer of POST /auth/password/forgot.
const forgotMessage = "If an account exists for this email, a link to reset its password is on its way. It works for 30 minutes."

// Forgot starts a password recovery. It answers the same, in the same
// time, whether or not the account exists: the only work done before
// answering is the same for both (the email's form, the address's
// throttle); finding the account and mailing the link happen afterwards.
func (s *Service) Forgot(ctx context.Context, rawEmail string, client auth.Client) (api.Accepted, error) {
	if s.mailer == nil {
		return api.Accepted{}, model.ErrMailNotConfigured
	}
	email, fe := auth.NormalizeEmail(rawEmail)
	if fe != nil {
		return api.Accepted{}, model.Invalid(*fe)
	}
	// Per address, in the open: it says nothing about accounts.
	if err := s.throttle(ctx, forgotRule(model.ThrottleKey(model.ThrottleForgotIP, client.IP), 20)); err != nil {
		return api.Accepted{}, err
	}
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		s.sendReset(bg, email, client)
	}()
	return api.Accepted{Message: forgotMessage}, nil
}

// forgotRule allows n requests per key within 15 minutes.
func forgotRule(key string, n int) model.ThrottleRule {
	return model.ThrottleRule{Key: key, Limit: n, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
}

// throttle counts one request under rule and refuses it while the key is
// locked.
func (s *Service) throttle(ctx context.Context, rule model.ThrottleRule) error {
	locked, err := s.store.LockedUntil(ctx, []string{rule.Key})
	if err != nil {
		return fmt.Errorf("accounts: throttle: %w", err)
	}
	if until, ok := locked[rule.Key]; ok {
		return &model.LockedOutError{RetryAfter: until.Sub(s.cfg.Now())}
	}
	if _, err := s.store.RecordFailures(ctx, []model.ThrottleRule{rule}); err != nil {
		return fmt.Errorf("accounts: throttle: %w", err)
	}
	return nil
}

// sendReset mails a reset link for email if it names an account (and the
// email's own throttle allows: a few links per quarter hour, silently).
func (s *Service) sendReset(ctx context.Context, email string, client auth.Client) {
	if err := s.throttle(ctx, forgotRule(model.ThrottleKey(model.ThrottleForgotEmail, email), 3)); err != nil {
		s.log.Info("password reset not sent: too many requests for this email", "email", email)
		return
	}
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, model.ErrNotFound) {
		return // nothing to tell anyone
	} else if err != nil {
		s.log.Error("password reset: read account", "err", err)
		return
	}
	link, err := s.issue(ctx, u, model.TokenReset, s.cfg.ResetTTL, &model.Audit{Action: api.AuditResetRequested,
		ActorID: u.ID.String(), TargetID: u.ID.String(), Detail: "ip=" + client.IP, RequestID: client.RequestID})
	if err != nil {
		s.log.Error("password reset: issue a link", "err", err)
		return
	}
	if err := s.mailer.Send(ctx, resetMail(u.Email, link.URL, s.cfg.ResetTTL, false)); err != nil {
		s.log.Error("password reset: mail not sent", "email", u.Email, "err", err)
	}
}

// Reset sets a password with the token of a reset or invitation link.
// Every session of the account ends.
func (s *Service) Reset(ctx context.Context, in api.ResetPasswordRequest, client auth.Client) error {
	if fe := auth.CheckPassword("password", in.Password); fe != nil {
		return model.Invalid(*fe)
	}
	purpose, ok := purposeOf(in.Token)
	if !ok {
		return model.ErrAccountTokenInvalid
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return err
	}
	action := api.AuditPasswordReset
	if purpose == model.TokenInvite {
		action = api.AuditInvitationAccepted
	}
	u, err := s.store.RedeemAccountToken(ctx, hashToken(in.Token), purpose, hash,
		&model.Audit{Action: action, Detail: "ip=" + client.IP + "; every session ended", RequestID: client.RequestID})
	if err != nil {
		return fmt.Errorf("accounts: reset: %w", err)
	}
	if s.cfg.PasswordChanged != nil {
		s.cfg.PasswordChanged(ctx, u)
	}
	return nil
}

// CreateUser creates an account without a password and invites its owner:
// by mail when mail is configured, otherwise with a link in the answer for
// the admin to hand over.
func (s *Service) CreateUser(ctx context.Context, admin auth.Principal, in api.CreateUserRequest, requestID string) (api.CreatedUser, error) {
	email, fe := auth.NormalizeEmail(in.Email)
	var fields model.Fields
	if fe != nil {
		fields = append(fields, *fe)
	}
	role := in.Role
	if role == "" {
		role = api.RoleUser
	}
	if role != api.RoleUser && role != api.RoleAdmin {
		fields.Add("role", `must be "user" or "admin"`)
	}
	if err := fields.Err(); err != nil {
		return api.CreatedUser{}, err
	}
	u := model.NewUser(email, "", role, s.cfg.Now()) // no password until the invitation is accepted
	if err := s.store.CreateUser(ctx, u, &model.Audit{ActorID: admin.UserID.String(), Action: api.AuditUserCreated,
		TargetID: u.ID.String(), TargetEmail: email, Detail: "created by an admin as " + role, RequestID: requestID}); err != nil {
		return api.CreatedUser{}, fmt.Errorf("accounts: create user: %w", err)
	}
	link, err := s.sendLink(ctx, u, model.TokenInvite, s.cfg.InviteTTL, &model.Audit{ActorID: admin.UserID.String(),
		Action: api.AuditUserInvited, TargetID: u.ID.String(), RequestID: requestID})
	if err != nil {
		return api.CreatedUser{}, err
	}
	return api.CreatedUser{User: auth.UserJSON(u), Invitation: link}, nil
}

// ResetLink issues a one-time link to reset a user's password, mailed or
// returned.
func (s *Service) ResetLink(ctx context.Context, admin auth.Principal, rawID, requestID string) (api.AccountLink, error) {
	u, err := s.user(ctx, rawID)
	if err != nil {
		return api.AccountLink{}, err
	}
	purpose := model.TokenReset
	if u.PasswordHash == "" {
		purpose = model.TokenInvite // never accepted: a new invitation
	}
	return s.sendLink(ctx, u, purpose, s.cfg.AdminResetTTL, &model.Audit{ActorID: admin.UserID.String(),
		Action: api.AuditResetLinkIssued, TargetID: u.ID.String(), RequestID: requestID})
}

// SignOut ends every session of a user.
func (s *Service) SignOut(ctx context.Context, admin auth.Principal, rawID, requestID string) error {
	u, err := s.user(ctx, rawID)
	if err != nil {
		return err
	}
	if err := s.store.RevokeOtherSessions(ctx, u.ID, uuid.Nil); err != nil {
		return fmt.Errorf("accounts: sign out: %w", err)
	}
	_ = s.store.AppendAudit(ctx, &model.Audit{ActorID: admin.UserID.String(), Action: api.AuditSessionsRevokedByAdmin,
		TargetID: u.ID.String(), Detail: "every session ended by an admin", RequestID: requestID})
	return nil
}

func (s *Service) user(ctx context.Context, rawID string) (model.User, error) {
	id, err := uuid.Parse(rawID)
	if err != nil {
		return model.User{}, model.ErrUserNotFound
	}
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return model.User{}, model.ErrUserNotFound
	} else if err != nil {
		return model.User{}, fmt.Errorf("accounts: read user: %w", err)
	}
	return u, nil
}

// sendLink issues a link and mails it; without mail, or when the mail
// fails, the link is returned for the admin to hand over.
func (s *Service) sendLink(ctx context.Context, u model.User, purpose string, ttl time.Duration, audit *model.Audit) (api.AccountLink, error) {
	link, err := s.issue(ctx, u, purpose, ttl, audit)
	if err != nil {
		return api.AccountLink{}, err
	}
	if s.mailer == nil {
		return link, nil
	}
	if err := s.mailer.Send(ctx, resetMail(u.Email, link.URL, ttl, purpose == model.TokenInvite)); err != nil {
		s.log.Error("account link not mailed; handing it to the admin", "email", u.Email, "err", err)
		return link, nil
	}
	return api.AccountLink{Sent: true, ExpiresAt: link.ExpiresAt}, nil
}

// issue stores a new token (replacing the user's older ones of the same
// purpose) and returns its link.
func (s *Service) issue(ctx context.Context, u model.User, purpose string, ttl time.Duration, audit *model.Audit) (api.AccountLink, error) {
	token, err := newToken(purpose)
	if err != nil {
		return api.AccountLink{}, err
	}
	now := s.cfg.Now().UTC()
	tok := model.AccountToken{ID: uuid.Must(uuid.NewV7()), UserID: u.ID, Purpose: purpose, TokenHash: hashToken(token),
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.store.CreateAccountToken(ctx, tok, audit); err != nil {
		return api.AccountLink{}, fmt.Errorf("accounts: issue a link: %w", err)
	}
	return api.AccountLink{URL: strings.TrimRight(s.cfg.PublicURL, "/") + "/reset?token=" + url.QueryEscape(token),
		ExpiresAt: tok.ExpiresAt}, nil
}

// Tokens: a prefix naming the purpose, then 256 random bits.
var tokenPrefixes = map[string]string{model.TokenReset: "rst_", model.TokenInvite: "inv_"}

func newToken(purpose string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("accounts: token: %w", err)
	}
	return tokenPrefixes[purpose] + base64.RawURLEncoding.EncodeToString(b), nil
}

func purposeOf(token string) (string, bool) {
	for purpose, prefix := range tokenPrefixes {
		if strings.HasPrefix(token, prefix) && len(token) > len(prefix)+40 {
			return purpose, true
		}
	}
	return "", false
}

// hashToken is SHA-256: the tokens are random, so no slow hash is needed.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
