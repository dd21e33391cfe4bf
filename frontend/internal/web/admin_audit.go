package web

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

const auditPerPage = 50

// auditData is one page of the audit trail with its filters.
type auditData struct {
	Actor, Action string
	Actions       []string
	Entries       []api.AuditEntry
	Pager         pager
}

var auditActions = []string{
	api.AuditLoginFailed, api.AuditLockout, api.AuditFamilyRevoked, api.AuditPasswordChange,
	api.AuditEmailChange, api.AuditRoleChange, api.AuditUserDeleted, api.AuditTokensPurged,
	api.AuditUserCreated, api.AuditBackup,
}

func (a *app) adminAudit(c echo.Context) error {
	actor, action, offset := c.QueryParam("actor"), c.QueryParam("action"), offsetParam(c)
	cl, ctx, cancel := a.api(c)
	defer cancel()
	list, err := cl.Audit(ctx, client.AuditParams{Limit: auditPerPage, Offset: offset, Actor: actor, Action: action})
	if err != nil {
		return err
	}
	data := auditData{Actor: actor, Action: action, Actions: auditActions, Entries: list.Items,
		Pager: newPager("/admin/audit", url.Values{"actor": {actor}, "action": {action}}, offset, auditPerPage, list.Total)}
	return c.Render(http.StatusOK, "admin_audit", a.newView(c, "Audit trail", "admin", data))
}
