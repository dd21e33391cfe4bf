package apikeys

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/shared/api"
)

// Handler serves /users/me/api-keys and /admin/api-keys.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Create makes a key (POST /users/me/api-keys); the secret is in this
// answer only.
func (h *Handler) Create(c *gin.Context) {
	var in api.APIKeyRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	out, err := h.svc.Create(c.Request.Context(), auth.PrincipalOf(c), in, httpx.RequestIDOf(c))
	if err == nil {
		c.Header("Cache-Control", "no-store")
	}
	httpx.Respond(c, http.StatusCreated, out, err)
}

// Mine lists the caller's keys (GET /users/me/api-keys).
func (h *Handler) Mine(c *gin.Context) {
	limit, offset, err := httpx.Paging(c, defaultListLimit, maximumListLimit)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	out, err := h.svc.Mine(c.Request.Context(), auth.PrincipalOf(c), limit, offset)
	httpx.Respond(c, http.StatusOK, out, err)
}

// RevokeMine revokes one of the caller's keys (DELETE /users/me/api-keys/{id}).
func (h *Handler) RevokeMine(c *gin.Context) {
	if err := h.svc.RevokeMine(c.Request.Context(), auth.PrincipalOf(c), c.Param("id"), httpx.RequestIDOf(c)); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// All lists every user's keys (GET /admin/api-keys).
func (h *Handler) All(c *gin.Context) {
	limit, offset, err := httpx.Paging(c, defaultListLimit, maximumListLimit)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	out, err := h.svc.All(c.Request.Context(), limit, offset)
	httpx.Respond(c, http.StatusOK, out, err)
}

// RevokeAny revokes any key (DELETE /admin/api-keys/{id}).
func (h *Handler) RevokeAny(c *gin.Context) {
	if err := h.svc.RevokeAny(c.Request.Context(), auth.PrincipalOf(c), c.Param("id"), httpx.RequestIDOf(c)); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
