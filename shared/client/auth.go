package client

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/duckgate/duckgate/shared/api"
)

// Register creates an account (POST /auth/register). A taken email is a 409
// problem, an invalid email or password a 422 naming the field.
func (c *Client) Register(ctx context.Context, in api.RegisterRequest) (*api.User, error) {
	var out api.User
	if err := c.doJSON(ctx, http.MethodPost, "/auth/register", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Login exchanges an email and password for a token pair (POST /auth/login).
// Wrong credentials are a 401 problem, too many failures a 429 with
// RetryAfter set.
func (c *Client) Login(ctx context.Context, in api.LoginRequest) (*api.TokenPair, error) {
	var out api.TokenPair
	if err := c.doJSON(ctx, http.MethodPost, "/auth/login", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LoginForm logs in through the OAuth2 password flow's form
// (application/x-www-form-urlencoded username and password), as OAuth2 tools
// do. It answers like Login.
func (c *Client) LoginForm(ctx context.Context, username, password string) (*api.TokenPair, error) {
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	r := request{
		method:      http.MethodPost,
		path:        "/auth/login",
		body:        strings.NewReader(form.Encode()),
		contentType: "application/x-www-form-urlencoded",
		accept:      "application/json, " + api.ProblemContentType,
	}
	var out api.TokenPair
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Refresh rotates refreshToken into a new pair (POST /auth/refresh). The old
// refresh token stops working at once; an unknown, expired, revoked or reused
// one is a 401 problem.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*api.TokenPair, error) {
	var out api.TokenPair
	in := api.RefreshRequest{RefreshToken: refreshToken}
	if err := c.doJSON(ctx, http.MethodPost, "/auth/refresh", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Logout ends the session of refreshToken (POST /auth/logout). An unknown
// token is not an error.
func (c *Client) Logout(ctx context.Context, refreshToken string) error {
	in := api.RefreshRequest{RefreshToken: refreshToken}
	return c.doJSON(ctx, http.MethodPost, "/auth/logout", nil, in, nil)
}

// JWKS fetches the public keys that verify access tokens
// (GET /.well-known/jwks.json).
func (c *Client) JWKS(ctx context.Context) (*api.JWKS, error) {
	var out api.JWKS
	if err := c.doJSON(ctx, http.MethodGet, "/.well-known/jwks.json", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ForgotPassword asks for a password reset link for email
// (POST /auth/password/forgot). The answer is the same whether or not the
// account exists.
func (c *Client) ForgotPassword(ctx context.Context, email string) (*api.Accepted, error) {
	var out api.Accepted
	if err := c.doJSON(ctx, http.MethodPost, "/auth/password/forgot", nil, api.ForgotPasswordRequest{Email: email}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResetPassword sets a password with the token of a reset or invitation
// link (POST /auth/password/reset); every session of the account ends.
func (c *Client) ResetPassword(ctx context.Context, token, password string) error {
	return c.doJSON(ctx, http.MethodPost, "/auth/password/reset", nil, api.ResetPasswordRequest{Token: token, Password: password}, nil)
}

// AuthCapabilities says what sign-in features the server offers
// (GET /auth/capabilities).
func (c *Client) AuthCapabilities(ctx context.Context) (*api.AuthCapabilities, error) {
	var out api.AuthCapabilities
	if err := c.doJSON(ctx, http.MethodGet, "/auth/capabilities", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
