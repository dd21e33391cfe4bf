package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/duckgate/duckgate/shared/api"
)

// Me returns the signed-in user (GET /users/me).
func (c *Client) Me(ctx context.Context) (*api.User, error) {
	var out api.User
	if err := c.doJSON(ctx, http.MethodGet, "/users/me", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateMe changes the signed-in user's email and/or password (PUT /users/me).
// A wrong CurrentPassword is a 403 problem; a password change signs out every
// other session.
func (c *Client) UpdateMe(ctx context.Context, in api.UpdateMeRequest) (*api.User, error) {
	var out api.User
	if err := c.doJSON(ctx, http.MethodPut, "/users/me", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Sessions lists the signed-in user's active sessions (GET /users/me/sessions).
func (c *Client) Sessions(ctx context.Context) (*api.SessionList, error) {
	var out api.SessionList
	if err := c.doJSON(ctx, http.MethodGet, "/users/me/sessions", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeSession ends one of the user's sessions
// (DELETE /users/me/sessions/{id}); another user's session is a 404 problem.
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, pathf("/users/me/sessions/%s", id), nil, nil, nil)
}

// RevokeOtherSessions signs out every session of the user but the current
// one (DELETE /users/me/sessions).
func (c *Client) RevokeOtherSessions(ctx context.Context) error {
	return c.doJSON(ctx, http.MethodDelete, "/users/me/sessions", nil, nil, nil)
}

// ListUsersParams selects a page of GET /users. Zero values are left out, so
// the backend's defaults apply (limit 50).
type ListUsersParams struct {
	Limit, Offset int
	// Query filters by email substring.
	Query string
}

func (p ListUsersParams) values() url.Values {
	q := pageValues(p.Limit, p.Offset)
	setIfNotEmpty(q, "q", p.Query)
	return q
}

// ListUsers returns a page of users and their total (GET /users, admin only).
func (c *Client) ListUsers(ctx context.Context, p ListUsersParams) (*api.UserList, error) {
	var out api.UserList
	if err := c.doJSON(ctx, http.MethodGet, "/users", p.values(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUser deletes a user and ends their sessions (DELETE /users/{id},
// admin only). Deleting oneself is a 409 problem.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, pathf("/users/%s", id), nil, nil, nil)
}

// SetRole changes a user's role to api.RoleUser or api.RoleAdmin
// (PUT /users/{id}/role, admin only). Demoting the last admin is a 409
// problem.
func (c *Client) SetRole(ctx context.Context, id, role string) (*api.User, error) {
	var out api.User
	in := api.RoleRequest{Role: role}
	if err := c.doJSON(ctx, http.MethodPut, pathf("/users/%s/role", id), nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// pageValues encodes limit and offset, leaving out zeros.
func pageValues(limit, offset int) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	return q
}

func setIfNotEmpty(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}
