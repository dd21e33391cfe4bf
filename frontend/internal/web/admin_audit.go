package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

const auditPerPage = 50

// auditData is one page of the audit trail with its filters. Since and
// Until are days (YYYY-MM-DD, UTC), both included.
type auditData struct {
	Email, Action, Since, Until string
	// Actor is a user id, from older links; kept while it is in the URL.
	Actor   string
	Actions []string
	Entries []api.AuditEntry
	Pager   pager
}

// auditActions are the actions the filter offers, in the order a person
// looks for them: sign-in and accounts first, then admin work.
var auditActions = []string{
	api.AuditLoginSucceeded, api.AuditLoginFailed, api.AuditLockout, api.AuditLockoutLifted,
	api.AuditRegistered, api.AuditResetRequested, api.AuditPasswordReset, api.AuditInvitationAccepted,
	api.AuditPasswordChange, api.AuditEmailChange, api.AuditFamilyRevoked, api.AuditRefreshRetried,
	api.AuditUserCreated, api.AuditUserInvited, api.AuditResetLinkIssued, api.AuditSessionsRevokedByAdmin,
	api.AuditRoleChange, api.AuditUserDeleted, api.AuditTokensPurged, api.AuditBackup,
	api.AuditKeyCreated, api.AuditKeyRevoked, api.AuditAdminKeyRevoked, api.AuditBudgetSet,
}

const dayLayout = "2006-01-02"

// auditDays reads the since and until days: since from its midnight,
// until to the end of its day (UTC). A day that is not a date is an error
// for that field.
func auditDays(since, until string) (from, to time.Time, errs map[string]string) {
	errs = map[string]string{}
	if since != "" {
		t, err := time.Parse(dayLayout, since)
		if err != nil {
			errs["since"] = "Enter a date like 2026-01-31."
		}
		from = t
	}
	if until != "" {
		t, err := time.Parse(dayLayout, until)
		if err != nil {
			errs["until"] = "Enter a date like 2026-01-31."
		} else {
			to = t.AddDate(0, 0, 1)
		}
	}
	if len(errs) == 0 && !from.IsZero() && !to.IsZero() && !from.Before(to) {
		errs["until"] = "The end comes before the start."
	}
	return from, to, errs
}

func (a *app) adminAudit(c echo.Context) error {
	d := auditData{Email: strings.TrimSpace(c.QueryParam("email")), Action: c.QueryParam("action"),
		Since: c.QueryParam("since"), Until: c.QueryParam("until"), Actor: c.QueryParam("actor"), Actions: auditActions}
	from, to, errs := auditDays(d.Since, d.Until)
	if len(errs) > 0 {
		v := a.newView(c, "Audit trail", "admin", d)
		v.Form = Form{Errors: errs}
		return c.Render(http.StatusUnprocessableEntity, "admin_audit", v)
	}
	offset := offsetParam(c)
	cl, ctx, cancel := a.api(c)
	defer cancel()
	list, err := cl.Audit(ctx, client.AuditParams{Limit: auditPerPage, Offset: offset, Actor: d.Actor, Action: d.Action,
		Email: d.Email, Since: from, Until: to})
	if err != nil {
		return err
	}
	d.Entries = list.Items
	q := url.Values{}
	for k, v := range map[string]string{"email": d.Email, "action": d.Action, "since": d.Since, "until": d.Until, "actor": d.Actor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	d.Pager = newPager("/admin/audit", q, offset, auditPerPage, list.Total)
	return c.Render(http.StatusOK, "admin_audit", a.newView(c, "Audit trail", "admin", d))
}
