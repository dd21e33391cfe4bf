package admin

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpapi"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Handler serves /admin/*.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes mounts the admin-only endpoints.
func (h *Handler) Routes(g httpapi.Groups) {
	admin := g.Admin
	admin.GET("/admin/stats", h.stats)
	admin.GET("/admin/health/db", h.dbHealth)
	admin.POST("/admin/tokens/purge", h.purge)
	admin.GET("/admin/audit", h.audit)
	admin.POST("/admin/backup", h.backup)
}

func (h *Handler) backup(c *gin.Context) {
	res, err := h.svc.Backup(c.Request.Context(), auth.PrincipalOf(c).UserID.String(), httpapi.RequestIDOf(c))
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	httpapi.JSON(c, http.StatusOK, res)
}

func (h *Handler) stats(c *gin.Context) {
	st, err := h.svc.Stats(c.Request.Context())
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	httpapi.JSON(c, http.StatusOK, st)
}

func (h *Handler) dbHealth(c *gin.Context) {
	hl := h.svc.DBHealth(c.Request.Context())
	status := http.StatusOK
	if hl.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	httpapi.JSON(c, status, hl)
}

func (h *Handler) purge(c *gin.Context) {
	n, err := h.svc.Purge(c.Request.Context(), auth.PrincipalOf(c).UserID.String(), httpapi.RequestIDOf(c))
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	httpapi.JSON(c, http.StatusOK, api.PurgeResult{Purged: n})
}

func (h *Handler) audit(c *gin.Context) {
	limit, offset, err := httpapi.Paging(c, 50, 200)
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	list, err := h.svc.Audit(c.Request.Context(), model.AuditFilter{Actor: c.Query("actor"), Action: c.Query("action"), Limit: limit, Offset: offset})
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	httpapi.JSON(c, http.StatusOK, list)
}
