package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// Stats returns counts of users, refresh tokens and AI calls
// (GET /admin/stats, admin only).
func (c *Client) Stats(ctx context.Context) (*api.Stats, error) {
	var out api.Stats
	if err := c.doJSON(ctx, http.MethodGet, "/admin/stats", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DBHealth checks the database (GET /admin/health/db, admin only).
//
// When the database is down the backend answers 503 with a DBHealth body
// ({"status":"error", ...}). DBHealth then returns BOTH that body and a
// *api.Problem error with Status 503, so a caller can show the report while
// IsStatus(err, http.StatusServiceUnavailable) still holds. Any other failure
// returns a nil DBHealth.
func (c *Client) DBHealth(ctx context.Context) (*api.DBHealth, error) {
	return getReport(ctx, c, "/admin/health/db", func(h *api.DBHealth) (bool, string) {
		if h.Error != "" {
			return h.Status != "", "database unhealthy: " + h.Error
		}
		return h.Status != "", "database unhealthy (status " + strconv.Quote(h.Status) + ")"
	})
}

// PurgeTokens deletes expired and revoked refresh tokens
// (POST /admin/tokens/purge, admin only).
func (c *Client) PurgeTokens(ctx context.Context) (*api.PurgeResult, error) {
	var out api.PurgeResult
	if err := c.doJSON(ctx, http.MethodPost, "/admin/tokens/purge", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditParams selects a page of GET /admin/audit; zero values are left out.
type AuditParams struct {
	Limit, Offset int
	// Actor is a user id; Action one of the api.Audit* constants; Email part
	// of the actor's or target's email.
	Actor, Action, Email string
	// Since and Until bound the entries' time (zero: unbounded).
	Since, Until time.Time
}

// Audit returns a page of the audit trail, newest first
// (GET /admin/audit, admin only).
func (c *Client) Audit(ctx context.Context, p AuditParams) (*api.AuditList, error) {
	q := pageValues(p.Limit, p.Offset)
	setIfNotEmpty(q, "actor", p.Actor)
	setIfNotEmpty(q, "action", p.Action)
	setIfNotEmpty(q, "email", p.Email)
	if !p.Since.IsZero() {
		q.Set("since", p.Since.UTC().Format(time.RFC3339))
	}
	if !p.Until.IsZero() {
		q.Set("until", p.Until.UTC().Format(time.RFC3339))
	}
	var out api.AuditList
	if err := c.doJSON(ctx, http.MethodGet, "/admin/audit", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UsageParams selects GET /admin/usage; zero values are left out so the
// backend's defaults apply.
type UsageParams struct {
	// Days is how far back to look.
	Days int
	// GroupBy is "model", "user" or "day".
	GroupBy string
}

// Usage reports AI usage per model, user or day (GET /admin/usage, admin
// only).
func (c *Client) Usage(ctx context.Context, p UsageParams) (*api.UsageReport, error) {
	q := url.Values{}
	if p.Days > 0 {
		q.Set("days", strconv.Itoa(p.Days))
	}
	setIfNotEmpty(q, "group_by", p.GroupBy)
	var out api.UsageReport
	if err := c.doJSON(ctx, http.MethodGet, "/admin/usage", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Backup writes a consistent snapshot of the database on the backend's disk
// (POST /admin/backup, admin only).
func (c *Client) Backup(ctx context.Context) (*api.BackupResult, error) {
	var out api.BackupResult
	if err := c.doJSON(ctx, http.MethodPost, "/admin/backup", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Lockouts lists the sign-in lock-outs in force (GET /admin/lockouts,
// admin only).
func (c *Client) Lockouts(ctx context.Context) (*api.LockoutList, error) {
	var out api.LockoutList
	if err := c.doJSON(ctx, http.MethodGet, "/admin/lockouts", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LiftLockout ends a lock-out before its time (DELETE /admin/lockouts/{id},
// admin only).
func (c *Client) LiftLockout(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, "/admin/lockouts/"+url.PathEscape(id), nil, nil, nil)
}

// CreateUser creates an account and invites its owner to set a password
// (POST /users, admin only): the invitation is mailed, or its link is in
// the answer when the server has no mail.
func (c *Client) CreateUser(ctx context.Context, in api.CreateUserRequest) (*api.CreatedUser, error) {
	var out api.CreatedUser
	if err := c.doJSON(ctx, http.MethodPost, "/users", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PasswordResetLink issues a one-time link to reset a user's password
// (POST /users/{id}/password-reset, admin only): mailed, or returned.
func (c *Client) PasswordResetLink(ctx context.Context, userID string) (*api.AccountLink, error) {
	var out api.AccountLink
	if err := c.doJSON(ctx, http.MethodPost, "/users/"+url.PathEscape(userID)+"/password-reset", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SignOutUser ends every session of a user (DELETE /users/{id}/sessions,
// admin only).
func (c *Client) SignOutUser(ctx context.Context, userID string) error {
	return c.doJSON(ctx, http.MethodDelete, "/users/"+url.PathEscape(userID)+"/sessions", nil, nil, nil)
}
