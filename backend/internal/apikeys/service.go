// Package apikeys serves the API keys of users: creation (the secret shown
// once), listing and revocation, by the user (/users/me/api-keys) and by
// admins (/admin/api-keys). Authentication with a key is auth's.
package apikeys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Store is what key management needs from storage.
type Store interface {
	CreateAPIKey(ctx context.Context, k model.APIKey, audit *model.Audit) error
	APIKeys(ctx context.Context, f model.APIKeyFilter) ([]model.APIKey, int, error)
	RevokeAPIKey(ctx context.Context, id, owner uuid.UUID, audit *model.Audit) error
	UserByID(ctx context.Context, id uuid.UUID) (model.User, error)
}

// Limits of a key's fields.
const (
	maxNameLength     = 100
	maxKeyLifetime    = 10 * 365 * 24 * time.Hour
	maxRequestsPerMin = 100_000
	defaultListLimit  = 50
	maximumListLimit  = 200
)

// Service holds the rules of API keys.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService wires key management; now nil is time.Now.
func NewService(st Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, now: now}
}

// Create makes a key for the caller and returns it with its secret.
func (s *Service) Create(ctx context.Context, p auth.Principal, in api.APIKeyRequest, requestID string) (api.NewAPIKey, error) {
	now := s.now().UTC()
	name := strings.TrimSpace(in.Name)
	var fields model.Fields
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		fields.Add("name", "is required")
	case n > maxNameLength || !utf8.ValidString(name):
		fields.Add("name", fmt.Sprintf("must be valid UTF-8 of at most %d characters", maxNameLength))
	}
	scopes := []string{}
	for _, sc := range model.Scopes() {
		if slices.Contains(in.Scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if len(in.Scopes) == 0 {
		fields.Add("scopes", "name at least one of: "+strings.Join(model.Scopes(), ", "))
	}
	for _, sc := range in.Scopes {
		if !slices.Contains(model.Scopes(), sc) {
			fields.Add("scopes", fmt.Sprintf("%q is not a scope; scopes: %s", sc, strings.Join(model.Scopes(), ", ")))
		}
	}
	if in.ExpiresAt != nil && (!in.ExpiresAt.After(now) || in.ExpiresAt.Sub(now) > maxKeyLifetime) {
		fields.Add("expires_at", "must be in the future, within ten years")
	}
	rpm := 0
	if in.RequestsPerMinute != nil {
		if rpm = *in.RequestsPerMinute; rpm < 1 || rpm > maxRequestsPerMin {
			fields.Add("requests_per_minute", fmt.Sprintf("must be from 1 to %d", maxRequestsPerMin))
		}
	}
	if err := fields.Err(); err != nil {
		return api.NewAPIKey{}, err
	}
	secret, prefix, hash, err := auth.NewKeySecret()
	if err != nil {
		return api.NewAPIKey{}, err
	}
	k := model.APIKey{ID: uuid.Must(uuid.NewV7()), UserID: p.UserID, Name: name, Prefix: prefix, Hash: hash,
		Scopes: scopes, RequestsPerMinute: rpm, CreatedAt: now.Truncate(time.Microsecond)}
	if in.ExpiresAt != nil {
		at := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &at
	}
	audit := &model.Audit{Action: api.AuditKeyCreated, ActorID: p.UserID.String(), TargetID: k.ID.String(), RequestID: requestID,
		Detail: fmt.Sprintf("API key %q (%s) created with scopes %s", name, prefix, strings.Join(scopes, ","))}
	if err := s.store.CreateAPIKey(ctx, k, audit); err != nil {
		return api.NewAPIKey{}, fmt.Errorf("apikeys: create: %w", err)
	}
	return api.NewAPIKey{APIKey: toJSON(k, now), Secret: secret}, nil
}

// Mine lists the caller's live keys, newest first.
func (s *Service) Mine(ctx context.Context, p auth.Principal, limit, offset int) (api.APIKeyList, error) {
	return s.list(ctx, model.APIKeyFilter{UserID: p.UserID, Limit: limit, Offset: offset}, false)
}

// All lists everyone's live keys, newest first (admins).
func (s *Service) All(ctx context.Context, limit, offset int) (api.APIKeyList, error) {
	return s.list(ctx, model.APIKeyFilter{Limit: limit, Offset: offset}, true)
}

func (s *Service) list(ctx context.Context, f model.APIKeyFilter, withEmail bool) (api.APIKeyList, error) {
	keys, total, err := s.store.APIKeys(ctx, f)
	if err != nil {
		return api.APIKeyList{}, fmt.Errorf("apikeys: list: %w", err)
	}
	now := s.now()
	out := api.APIKeyList{Items: make([]api.APIKey, 0, len(keys)), Total: total}
	for _, k := range keys {
		item := toJSON(k, now)
		if withEmail {
			if u, err := s.store.UserByID(ctx, k.UserID); err == nil {
				item.UserEmail = u.Email
			}
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

// RevokeMine revokes one of the caller's keys; another user's key is 404.
func (s *Service) RevokeMine(ctx context.Context, p auth.Principal, rawID, requestID string) error {
	return s.revoke(ctx, rawID, p.UserID, &model.Audit{Action: api.AuditKeyRevoked, ActorID: p.UserID.String(), RequestID: requestID})
}

// RevokeAny revokes any user's key (admins).
func (s *Service) RevokeAny(ctx context.Context, p auth.Principal, rawID, requestID string) error {
	return s.revoke(ctx, rawID, uuid.Nil, &model.Audit{Action: api.AuditAdminKeyRevoked, ActorID: p.UserID.String(), RequestID: requestID})
}

func (s *Service) revoke(ctx context.Context, rawID string, owner uuid.UUID, audit *model.Audit) error {
	id, err := uuid.Parse(rawID)
	if err != nil {
		return model.ErrAPIKeyNotFound
	}
	audit.Detail = "API key " + id.String() + " revoked"
	err = s.store.RevokeAPIKey(ctx, id, owner, audit)
	if errors.Is(err, model.ErrNotFound) {
		return model.ErrAPIKeyNotFound
	}
	if err != nil {
		return fmt.Errorf("apikeys: revoke: %w", err)
	}
	return nil
}

func toJSON(k model.APIKey, now time.Time) api.APIKey {
	out := api.APIKey{ID: k.ID.String(), UserID: k.UserID.String(), Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes,
		RequestsPerMinute: k.RequestsPerMinute, CreatedAt: k.CreatedAt.UTC(), ExpiresAt: k.ExpiresAt,
		Expired: k.ExpiresAt != nil && !now.Before(*k.ExpiresAt), LastUsedAt: k.LastUsedAt, LastUsedIP: k.LastUsedIP}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	return out
}
