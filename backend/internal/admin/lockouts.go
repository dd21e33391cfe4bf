package admin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// A lock-out's id is its throttle key, base64url-encoded: keys hold an
// email and an address, which do not belong in a path as they are.

func lockoutID(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// Lockouts lists the sign-in lock-outs in force.
func (s *Service) Lockouts(ctx context.Context) (api.LockoutList, error) {
	list, err := s.store.Lockouts(ctx)
	if err != nil {
		return api.LockoutList{}, fmt.Errorf("admin: lockouts: %w", err)
	}
	out := api.LockoutList{Items: make([]api.Lockout, 0, len(list))}
	for _, l := range list {
		out.Items = append(out.Items, api.Lockout{ID: lockoutID(l.Key), Kind: l.Kind, Email: l.Email, IP: l.IP,
			LockedUntil: l.LockedUntil.UTC()})
	}
	return out, nil
}

// LiftLockout ends a lock-out before its time.
func (s *Service) LiftLockout(ctx context.Context, actor, id, requestID string) error {
	key, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return model.ErrLockoutNotFound
	}
	err = s.store.LiftLockout(ctx, string(key), &model.Audit{ActorID: actor, Action: api.AuditLockoutLifted,
		TargetID: string(key), RequestID: requestID, Detail: "lifted " + string(key)})
	if errors.Is(err, model.ErrNotFound) {
		return model.ErrLockoutNotFound
	} else if err != nil {
		return fmt.Errorf("admin: lift lockout: %w", err)
	}
	return nil
}
