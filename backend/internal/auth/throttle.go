package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Password checks are throttled by counts the store keeps (so every replica
// sees them) under three keys:
//   - the email from this address: LoginMaxFailures failures lock the pair,
//     so a guesser is stopped without locking the owner out elsewhere;
//   - the email from everywhere, at 10x: a distributed guess still stops;
//   - the address, whatever the email, at 4x: one client spraying emails.
// A sign-in and a PUT /users/me current_password check count alike.

// throttleKeys are the keys a password check from ip for email counts under.
func (s *Service) throttleRules(email, ip string) []model.ThrottleRule {
	n, lockout := s.cfg.LoginMaxFailures, s.cfg.LoginLockout
	return []model.ThrottleRule{
		{Key: model.ThrottleKey(model.ThrottlePair, email, ip), Limit: n, Window: lockout, Lockout: lockout},
		{Key: model.ThrottleKey(model.ThrottleEmail, email), Limit: 10 * n, Window: lockout, Lockout: lockout},
		{Key: model.ThrottleKey(model.ThrottleIP, ip), Limit: 4 * n, Window: lockout, Lockout: lockout},
	}
}

func ruleKeys(rules []model.ThrottleRule) []string {
	keys := make([]string, len(rules))
	for i, r := range rules {
		keys[i] = r.Key
	}
	return keys
}

// checkLocked fails with a LockedOutError while any key of a check is locked.
func (s *Service) checkLocked(ctx context.Context, email, ip string) error {
	locked, err := s.store.LockedUntil(ctx, ruleKeys(s.throttleRules(email, ip)))
	if err != nil {
		return fmt.Errorf("auth: read sign-in throttle: %w", err)
	}
	var until time.Time
	for _, t := range locked {
		if t.After(until) {
			until = t
		}
	}
	if wait := until.Sub(s.cfg.Now()); wait > 0 {
		return &model.LockedOutError{RetryAfter: wait}
	}
	return nil
}

// failPassword counts a wrong password (audited, with a lock-out entry when
// it locks a key) and returns fail.
func (s *Service) failPassword(ctx context.Context, email, userID string, client Client, fail error) error {
	detail := fmt.Sprintf("email=%q ip=%s", email, client.IP)
	_ = s.store.AppendAudit(ctx, &model.Audit{Action: api.AuditLoginFailed, TargetID: userID, Detail: detail, RequestID: client.RequestID})
	locked, err := s.store.RecordFailures(ctx, s.throttleRules(email, client.IP))
	if err != nil {
		return fmt.Errorf("auth: count a failed sign-in: %w", err)
	}
	for key, until := range locked {
		_ = s.store.AppendAudit(ctx, &model.Audit{Action: api.AuditLockout, TargetID: userID, RequestID: client.RequestID,
			Detail: fmt.Sprintf("%s locked=%s until=%s", detail, key, until.UTC().Format(time.RFC3339))})
	}
	return fail
}

// passed forgets the failures of a check that succeeded.
func (s *Service) passed(ctx context.Context, email, ip string) {
	rules := s.throttleRules(email, ip)
	_ = s.store.ClearFailures(ctx, ruleKeys(rules[:2])) // the address's count stays: it spans emails
}
