// Package users serves self-service (/users/me…) and admin user management
// (/users…).
package users

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Store is what user management needs from storage.
type Store interface {
	UserByID(ctx context.Context, id uuid.UUID) (model.User, error)
	UpdateUser(ctx context.Context, id uuid.UUID, change model.UserChange, audits ...*model.Audit) (model.User, error)
	ListUsers(ctx context.Context, query string, limit, offset int) (model.UserPage, error)
	DeleteUser(ctx context.Context, id uuid.UUID, audit *model.Audit) error
	SetRole(ctx context.Context, id uuid.UUID, role string, audit *model.Audit) (model.User, error)
	Sessions(ctx context.Context, user uuid.UUID) ([]model.Session, error)
	RevokeSession(ctx context.Context, user, family uuid.UUID) error
	RevokeOtherSessions(ctx context.Context, user, keep uuid.UUID) error
}

// Service holds the rules of user management.
type Service struct {
	store  Store
	hasher *auth.Hasher
	auth   *auth.Service
	// passwordChanged, when set, is told after a user changed their
	// password (the initial admin's password file goes then).
	passwordChanged func(ctx context.Context, u model.User)
}

// NewService wires user management.
// NewService wires user management; password checks go through authSvc,
// which throttles them like sign-ins.
func NewService(st Store, hasher *auth.Hasher, authSvc *auth.Service, passwordChanged func(ctx context.Context, u model.User)) *Service {
	return &Service{store: st, hasher: hasher, auth: authSvc, passwordChanged: passwordChanged}
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context, p auth.Principal) (model.User, error) {
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return model.User{}, fmt.Errorf("users: me: %w", err)
	}
	return u, nil
}

// UpdateMe changes the caller's email and/or password after checking the
// current password. A new password ends every other session.
func (s *Service) UpdateMe(ctx context.Context, p auth.Principal, req api.UpdateMeRequest, client auth.Client) (model.User, error) {
	requestID := client.RequestID
	var change model.UserChange
	var fields model.Fields
	if req.CurrentPassword == "" {
		fields.Add("current_password", "is required")
	}
	if req.Email != nil {
		email, fe := auth.NormalizeEmail(*req.Email)
		if fe != nil {
			fields = append(fields, *fe)
		}
		change.Email = &email
	}
	if req.Password != nil {
		if fe := auth.CheckPassword("password", *req.Password); fe != nil {
			fields = append(fields, *fe)
		}
	}
	if req.Email == nil && req.Password == nil {
		fields.Add("email", "give a new email or a new password")
	}
	if err := fields.Err(); err != nil {
		return model.User{}, err
	}
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return model.User{}, fmt.Errorf("users: load: %w", err)
	}
	if err := s.auth.VerifyPassword(ctx, u, req.CurrentPassword, client); err != nil {
		return model.User{}, err
	}
	var audits []*model.Audit
	actor := p.UserID.String()
	if change.Email != nil && *change.Email != u.Email {
		audits = append(audits, &model.Audit{ActorID: actor, Action: api.AuditEmailChange, TargetID: actor,
			Detail: fmt.Sprintf("from %q to %q", u.Email, *change.Email), RequestID: requestID})
	}
	if req.Password != nil {
		hash, err := s.hasher.Hash(ctx, *req.Password)
		if err != nil {
			return model.User{}, err
		}
		change.PasswordHash = &hash
		change.EndOtherSessions, change.KeepSession = true, p.SessionID
		audits = append(audits, &model.Audit{ActorID: actor, Action: api.AuditPasswordChange, TargetID: actor,
			Detail: "other sessions were signed out", RequestID: requestID})
	}
	updated, err := s.store.UpdateUser(ctx, p.UserID, change, audits...)
	if err != nil {
		return model.User{}, fmt.Errorf("users: update: %w", err)
	}
	if req.Password != nil && s.passwordChanged != nil {
		s.passwordChanged(ctx, updated)
	}
	return updated, nil
}

// Sessions lists the caller's live sessions.
func (s *Service) Sessions(ctx context.Context, p auth.Principal) ([]api.Session, error) {
	list, err := s.store.Sessions(ctx, p.UserID)
	if err != nil {
		return nil, fmt.Errorf("users: sessions: %w", err)
	}
	out := make([]api.Session, 0, len(list))
	for _, se := range list {
		out = append(out, api.Session{ID: se.ID.String(), CreatedAt: se.CreatedAt.UTC(), LastUsedAt: se.LastUsedAt.UTC(),
			ExpiresAt: se.ExpiresAt.UTC(), UserAgent: se.UserAgent, IP: se.IP, Current: se.ID == p.SessionID})
	}
	return out, nil
}

// RevokeSession ends one of the caller's sessions.
func (s *Service) RevokeSession(ctx context.Context, p auth.Principal, rawID string) error {
	id, err := uuid.Parse(rawID)
	if err != nil {
		return model.ErrSessionNotFound
	}
	if err := s.store.RevokeSession(ctx, p.UserID, id); errors.Is(err, model.ErrNotFound) {
		return model.ErrSessionNotFound
	} else if err != nil {
		return fmt.Errorf("users: revoke session: %w", err)
	}
	return nil
}

// RevokeOtherSessions signs the caller out everywhere else.
func (s *Service) RevokeOtherSessions(ctx context.Context, p auth.Principal) error {
	if err := s.store.RevokeOtherSessions(ctx, p.UserID, p.SessionID); err != nil {
		return fmt.Errorf("users: revoke other sessions: %w", err)
	}
	return nil
}

// List pages through users.
func (s *Service) List(ctx context.Context, q string, limit, offset int) (model.UserPage, error) {
	page, err := s.store.ListUsers(ctx, q, limit, offset)
	if err != nil {
		return model.UserPage{}, fmt.Errorf("users: list: %w", err)
	}
	return page, nil
}

// Delete removes a user (not the caller) and ends their sessions.
func (s *Service) Delete(ctx context.Context, p auth.Principal, rawID, requestID string) error {
	id, err := uuid.Parse(rawID)
	if err != nil {
		return model.ErrUserNotFound
	}
	if id == p.UserID {
		return model.ErrDeleteSelf
	}
	target, err := s.store.UserByID(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return model.ErrUserNotFound
	} else if err != nil {
		return fmt.Errorf("users: delete: %w", err)
	}
	err = s.store.DeleteUser(ctx, id, &model.Audit{ActorID: p.UserID.String(), Action: api.AuditUserDeleted,
		TargetID: id.String(), TargetEmail: target.Email, Detail: fmt.Sprintf("deleted %s (%s)", target.Email, target.Role), RequestID: requestID})
	switch {
	case errors.Is(err, model.ErrNotFound):
		return model.ErrUserNotFound
	case err != nil:
		return fmt.Errorf("users: delete: %w", err)
	}
	return nil
}

// SetRole changes a user's role, never leaving zero admins.
func (s *Service) SetRole(ctx context.Context, p auth.Principal, rawID, role, requestID string) (model.User, error) {
	if role != api.RoleUser && role != api.RoleAdmin {
		return model.User{}, model.Invalid(model.Field("role", `must be "user" or "admin"`))
	}
	id, err := uuid.Parse(rawID)
	if err != nil {
		return model.User{}, model.ErrUserNotFound
	}
	u, err := s.store.SetRole(ctx, id, role, &model.Audit{ActorID: p.UserID.String(), Action: api.AuditRoleChange,
		TargetID: id.String(), Detail: "role set to " + role, RequestID: requestID})
	switch {
	case errors.Is(err, model.ErrNotFound):
		return model.User{}, model.ErrUserNotFound
	case err != nil:
		return model.User{}, fmt.Errorf("users: set role: %w", err)
	}
	return u, nil
}
