package accounts

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/shared/api"
)

// Handler serves password recovery and the admins' account tools.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Capabilities says what the sign-in pages may offer (GET /auth/capabilities).
func (h *Handler) Capabilities(c *gin.Context) {
	httpx.JSON(c, http.StatusOK, h.svc.Capabilities())
}

// Forgot mails a reset link (POST /auth/password/forgot).
func (h *Handler) Forgot(c *gin.Context) {
	var in api.ForgotPasswordRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	out, err := h.svc.Forgot(c.Request.Context(), in.Email, auth.ClientOf(c))
	httpx.Respond(c, http.StatusAccepted, out, err)
}

// Reset sets a password with a link's token (POST /auth/password/reset).
func (h *Handler) Reset(c *gin.Context) {
	var in api.ResetPasswordRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	if err := h.svc.Reset(c.Request.Context(), in, auth.ClientOf(c)); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// CreateUser creates and invites an account (POST /users, admins).
func (h *Handler) CreateUser(c *gin.Context) {
	var in api.CreateUserRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	out, err := h.svc.CreateUser(c.Request.Context(), auth.PrincipalOf(c), in, httpx.RequestIDOf(c))
	httpx.Respond(c, http.StatusCreated, out, err)
}

// ResetLink issues a reset link for a user (POST /users/{id}/password-reset, admins).
func (h *Handler) ResetLink(c *gin.Context) {
	out, err := h.svc.ResetLink(c.Request.Context(), auth.PrincipalOf(c), c.Param("id"), httpx.RequestIDOf(c))
	httpx.Respond(c, http.StatusOK, out, err)
}

// SignOut ends every session of a user (DELETE /users/{id}/sessions, admins).
func (h *Handler) SignOut(c *gin.Context) {
	if err := h.svc.SignOut(c.Request.Context(), auth.PrincipalOf(c), c.Param("id"), httpx.RequestIDOf(c)); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
