package api

import "time"

// ForgotPasswordRequest is the body of POST /auth/password/forgot.
type ForgotPasswordRequest struct {
	Email string `json:"email"`
}

// Accepted is the answer of a request whose outcome must not be told (POST
// /auth/password/forgot answers the same whether the account exists).
type Accepted struct {
	Message string `json:"message"`
}

// ResetPasswordRequest is the body of POST /auth/password/reset: the
// one-time token from a reset or invitation link, and the new password.
type ResetPasswordRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// AuthCapabilities says what sign-in features this server offers
// (GET /auth/capabilities): the pages show only what works.
type AuthCapabilities struct {
	// PasswordRecovery: mail is configured, so POST /auth/password/forgot
	// sends links and admins' invitations are mailed.
	PasswordRecovery bool `json:"password_recovery"`
}

// CreateUserRequest is the body of POST /users (admins): the account is
// created without a password, and its owner sets one through a link.
type CreateUserRequest struct {
	Email string `json:"email"`
	Role  string `json:"role,omitempty"` // user (default) or admin
}

// AccountLink is a one-time link to set an account's password: mailed
// when mail is configured (Sent), otherwise returned for the admin to hand
// over (URL, shown once).
type AccountLink struct {
	Sent      bool      `json:"sent"`
	URL       string    `json:"url,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreatedUser is the answer of POST /users: the account and its invitation.
type CreatedUser struct {
	User       User        `json:"user"`
	Invitation AccountLink `json:"invitation"`
}
