package api

import "time"

// Roles a user can have.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// User is an account as the API shows it. The password hash never leaves the
// backend.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RegisterRequest is the body of POST /auth/register.
type RegisterRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginRequest is the JSON body of POST /auth/login. The endpoint also takes
// the OAuth2 password flow's form fields username and password.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Remember: false signs in for SHORT_SESSION_TTL (a shared computer);
	// absent or true, for REFRESH_TOKEN_TTL.
	Remember *bool `json:"remember,omitempty"`
}

// RefreshRequest is the body of POST /auth/refresh and POST /auth/logout.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// TokenPair is what a successful login or refresh returns.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// UpdateMeRequest is the body of PUT /users/me. CurrentPassword is always
// required; Email and Password are optional changes.
type UpdateMeRequest struct {
	Email           *string `json:"email,omitempty"`
	Password        *string `json:"password,omitempty"`
	CurrentPassword string  `json:"current_password"`
}

// Session is one signed-in device: a refresh-token family.
type Session struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

// SessionList is the body of GET /users/me/sessions.
type SessionList struct {
	Items []Session `json:"items"`
}

// UserList is a page of users (GET /users).
type UserList struct {
	Items []User `json:"items"`
	Total int    `json:"total"`
}

// RoleRequest is the body of PUT /users/{id}/role.
type RoleRequest struct {
	Role string `json:"role"`
}

// JWKS is the body of GET /.well-known/jwks.json: the public keys that verify
// access tokens (RFC 7517). Keys are kept as raw JSON objects.
type JWKS struct {
	Keys []map[string]any `json:"keys"`
}
