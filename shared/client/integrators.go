package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// WithAPIKey returns a copy of c that authenticates with an API key
// (dg_…) instead of an access token: keys authenticate the same way, as a
// bearer credential, on the endpoints their scopes allow.
func (c *Client) WithAPIKey(key string) *Client { return c.WithToken(key) }

// CreateAPIKey makes an API key of the caller (POST /users/me/api-keys).
// The answer's Secret is shown this once; keep it.
func (c *Client) CreateAPIKey(ctx context.Context, in api.APIKeyRequest) (*api.NewAPIKey, error) {
	var out api.NewAPIKey
	if err := c.doJSON(ctx, http.MethodPost, "/users/me/api-keys", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// APIKeys lists the caller's live keys, newest first (GET
// /users/me/api-keys); zero limit or offset leave the backend's defaults.
func (c *Client) APIKeys(ctx context.Context, limit, offset int) (*api.APIKeyList, error) {
	var out api.APIKeyList
	if err := c.doJSON(ctx, http.MethodGet, "/users/me/api-keys", pageValues(limit, offset), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeAPIKey revokes one of the caller's keys (DELETE /users/me/api-keys/{id}).
func (c *Client) RevokeAPIKey(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, pathf("/users/me/api-keys/%s", id), nil, nil, nil)
}

// AllAPIKeys lists every user's live keys (GET /admin/api-keys, admins).
func (c *Client) AllAPIKeys(ctx context.Context, limit, offset int) (*api.APIKeyList, error) {
	var out api.APIKeyList
	if err := c.doJSON(ctx, http.MethodGet, "/admin/api-keys", pageValues(limit, offset), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeAnyAPIKey revokes any user's key (DELETE /admin/api-keys/{id}, admins).
func (c *Client) RevokeAnyAPIKey(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, pathf("/admin/api-keys/%s", id), nil, nil, nil)
}

// MyUsage reports the caller's AI use in [from, to) by day and model, with
// this month's budget (GET /users/me/usage). Zero times leave the
// backend's defaults: this month so far.
func (c *Client) MyUsage(ctx context.Context, from, to time.Time) (*api.UserUsage, error) {
	q := url.Values{}
	if !from.IsZero() {
		q.Set("from", from.UTC().Format(time.RFC3339))
	}
	if !to.IsZero() {
		q.Set("to", to.UTC().Format(time.RFC3339))
	}
	var out api.UserUsage
	if err := c.doJSON(ctx, http.MethodGet, "/users/me/usage", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetBudget sets a user's monthly AI budget in USD, or with nil applies
// the default again (PUT /users/{id}/budget, admins).
func (c *Client) SetBudget(ctx context.Context, userID string, monthlyUSD *float64) (*api.Budget, error) {
	var out api.Budget
	if err := c.doJSON(ctx, http.MethodPut, pathf("/users/%s/budget", userID), nil, api.BudgetRequest{MonthlyUSD: monthlyUSD}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Token is the bearer credential c sends (an access token or an API key;
// empty for an anonymous client): what to give an OpenAI SDK as its API
// key to call /v1 as the same user.
func (c *Client) Token() string { return c.token }
