package admin

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Handler serves /admin/*.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Backup snapshots the database (POST /admin/backup).
func (h *Handler) Backup(c *gin.Context) {
	res, err := h.svc.Backup(c.Request.Context(), auth.PrincipalOf(c).UserID.String(), httpx.RequestIDOf(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, res)
}

// Stats counts users, tokens and AI calls (GET /admin/stats).
func (h *Handler) Stats(c *gin.Context) {
	st, err := h.svc.Stats(c.Request.Context())
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, st)
}

// DBHealth pings the database (GET /admin/health/db).
func (h *Handler) DBHealth(c *gin.Context) {
	hl := h.svc.DBHealth(c.Request.Context())
	status := http.StatusOK
	if hl.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	httpx.JSON(c, status, hl)
}

// Purge deletes dead refresh tokens (POST /admin/tokens/purge).
func (h *Handler) Purge(c *gin.Context) {
	n, err := h.svc.Purge(c.Request.Context(), auth.PrincipalOf(c).UserID.String(), httpx.RequestIDOf(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, api.PurgeResult{Purged: n})
}

// Audit lists the audit trail (GET /admin/audit).
func (h *Handler) Audit(c *gin.Context) {
	limit, offset, err := httpx.Paging(c, 50, 200)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	f := model.AuditFilter{Actor: c.Query("actor"), Email: c.Query("email"), Action: c.Query("action"), Limit: limit, Offset: offset}
	var fields model.Fields
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if raw := c.Query(name); raw != "" {
			t, err := time.Parse(time.RFC3339, raw)
			if err != nil {
				fields.Add(name, "must be a time such as 2026-12-01T00:00:00Z")
			}
			*dst = t
		}
	}
	if err := fields.Err(); err != nil {
		httpx.Abort(c, err)
		return
	}
	list, err := h.svc.Audit(c.Request.Context(), f)
	httpx.Respond(c, http.StatusOK, list, err)
}

// Usage reports AI calls grouped by model, user or day (GET /admin/usage).
func (h *Handler) Usage(c *gin.Context) {
	days, groupBy, err := UsageQuery(c.Query("days"), c.Query("group_by"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	report, err := h.svc.Usage(c.Request.Context(), days, groupBy)
	httpx.Respond(c, http.StatusOK, report, err)
}

// Lockouts lists sign-in lock-outs in force (GET /admin/lockouts).
func (h *Handler) Lockouts(c *gin.Context) {
	list, err := h.svc.Lockouts(c.Request.Context())
	httpx.Respond(c, http.StatusOK, list, err)
}

// LiftLockout ends one (DELETE /admin/lockouts/{id}).
func (h *Handler) LiftLockout(c *gin.Context) {
	err := h.svc.LiftLockout(c.Request.Context(), auth.PrincipalOf(c).UserID.String(), c.Param("id"), httpx.RequestIDOf(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
