package users

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpapi"
	"github.com/duckgate/duckgate/shared/api"
)

// Handler serves /users/*.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes mounts self-service for users and management for admins.
func (h *Handler) Routes(g httpapi.Groups) {
	user, admin := g.User, g.Admin
	user.GET("/users/me", h.me)
	user.PUT("/users/me", h.updateMe)
	user.GET("/users/me/sessions", h.sessions)
	user.DELETE("/users/me/sessions", h.revokeOtherSessions)
	user.DELETE("/users/me/sessions/:id", h.revokeSession)
	admin.GET("/users", h.list)
	admin.DELETE("/users/:id", h.delete)
	admin.PUT("/users/:id/role", h.setRole)
}

func (h *Handler) me(c *gin.Context) {
	u, err := h.svc.Me(c.Request.Context(), auth.PrincipalOf(c))
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	httpapi.JSON(c, http.StatusOK, auth.UserJSON(u))
}

func (h *Handler) updateMe(c *gin.Context) {
	var req api.UpdateMeRequest
	if err := httpapi.BindJSON(c, &req); err != nil {
		httpapi.Abort(c, err)
		return
	}
	u, err := h.svc.UpdateMe(c.Request.Context(), auth.PrincipalOf(c), req, httpapi.RequestIDOf(c))
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	httpapi.JSON(c, http.StatusOK, auth.UserJSON(u))
}

func (h *Handler) sessions(c *gin.Context) {
	list, err := h.svc.Sessions(c.Request.Context(), auth.PrincipalOf(c))
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	httpapi.JSON(c, http.StatusOK, api.SessionList{Items: list})
}

func (h *Handler) revokeSession(c *gin.Context) {
	if err := h.svc.RevokeSession(c.Request.Context(), auth.PrincipalOf(c), c.Param("id")); err != nil {
		httpapi.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Handler) revokeOtherSessions(c *gin.Context) {
	if err := h.svc.RevokeOtherSessions(c.Request.Context(), auth.PrincipalOf(c)); err != nil {
		httpapi.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Handler) list(c *gin.Context) {
	limit, offset, err := httpapi.Paging(c, 50, 200)
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	page, err := h.svc.List(c.Request.Context(), c.Query("q"), limit, offset)
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	out := api.UserList{Items: make([]api.User, 0, len(page.Users)), Total: page.Total}
	for _, u := range page.Users {
		out.Items = append(out.Items, auth.UserJSON(u))
	}
	httpapi.JSON(c, http.StatusOK, out)
}

func (h *Handler) delete(c *gin.Context) {
	if err := h.svc.Delete(c.Request.Context(), auth.PrincipalOf(c), c.Param("id"), httpapi.RequestIDOf(c)); err != nil {
		httpapi.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Handler) setRole(c *gin.Context) {
	var req api.RoleRequest
	if err := httpapi.BindJSON(c, &req); err != nil {
		httpapi.Abort(c, err)
		return
	}
	u, err := h.svc.SetRole(c.Request.Context(), auth.PrincipalOf(c), c.Param("id"), req.Role, httpapi.RequestIDOf(c))
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	httpapi.JSON(c, http.StatusOK, auth.UserJSON(u))
}
