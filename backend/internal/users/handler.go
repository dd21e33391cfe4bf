package users

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/shared/api"
)

// Handler serves /users/*.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Me answers the caller's account (GET /users/me).
func (h *Handler) Me(c *gin.Context) {
	u, err := h.svc.Me(c.Request.Context(), auth.PrincipalOf(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, auth.UserJSON(u))
}

// UpdateMe changes the caller's email or password (PUT /users/me).
func (h *Handler) UpdateMe(c *gin.Context) {
	var req api.UpdateMeRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Abort(c, err)
		return
	}
	u, err := h.svc.UpdateMe(c.Request.Context(), auth.PrincipalOf(c), req, auth.ClientOf(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, auth.UserJSON(u))
}

// Sessions lists the caller's sessions (GET /users/me/sessions).
func (h *Handler) Sessions(c *gin.Context) {
	list, err := h.svc.Sessions(c.Request.Context(), auth.PrincipalOf(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, api.SessionList{Items: list})
}

// RevokeSession ends one of the caller's sessions (DELETE /users/me/sessions/{id}).
func (h *Handler) RevokeSession(c *gin.Context) {
	if err := h.svc.RevokeSession(c.Request.Context(), auth.PrincipalOf(c), c.Param("id")); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// RevokeOtherSessions signs the caller out everywhere else (DELETE /users/me/sessions).
func (h *Handler) RevokeOtherSessions(c *gin.Context) {
	if err := h.svc.RevokeOtherSessions(c.Request.Context(), auth.PrincipalOf(c)); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// List pages through users (GET /users, admins).
func (h *Handler) List(c *gin.Context) {
	limit, offset, err := httpx.Paging(c, 50, 200)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	page, err := h.svc.List(c.Request.Context(), c.Query("q"), limit, offset)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	out := api.UserList{Items: make([]api.User, 0, len(page.Users)), Total: page.Total}
	for _, u := range page.Users {
		out.Items = append(out.Items, auth.UserJSON(u))
	}
	httpx.JSON(c, http.StatusOK, out)
}

// Delete removes a user (DELETE /users/{id}, admins).
func (h *Handler) Delete(c *gin.Context) {
	if err := h.svc.Delete(c.Request.Context(), auth.PrincipalOf(c), c.Param("id"), httpx.RequestIDOf(c)); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// SetRole changes a user's role (PUT /users/{id}/role, admins).
func (h *Handler) SetRole(c *gin.Context) {
	var req api.RoleRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Abort(c, err)
		return
	}
	u, err := h.svc.SetRole(c.Request.Context(), auth.PrincipalOf(c), c.Param("id"), req.Role, httpx.RequestIDOf(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, auth.UserJSON(u))
}
