package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

const usersPerPage = 20

// usersData is one page of the users table, the form to create a user,
// the lock-outs in force, and a link just issued (shown this once).
type usersData struct {
	Query    string
	Users    []api.User
	Pager    pager
	Lockouts []api.Lockout
	// Mail: the server mails invitations and reset links; without mail
	// the admin gets the link to hand over.
	Mail bool
	Link *issuedLink
}

// pager links to the neighbouring pages of a list, keeping its filters.
type pager struct {
	Offset, Limit, Total int
	Prev, Next           string // URLs, empty at the ends
}

func newPager(base string, q url.Values, offset, limit, total int) pager {
	p := pager{Offset: offset, Limit: limit, Total: total}
	link := func(off int) string {
		q.Set("offset", strconv.Itoa(off))
		return base + "?" + q.Encode()
	}
	if offset > 0 {
		p.Prev = link(max(offset-limit, 0))
	}
	if offset+limit < total {
		p.Next = link(offset + limit)
	}
	return p
}

// offsetParam reads a non-negative offset from the query string (or, after
// a form post on a list, from the form).
func offsetParam(c echo.Context) int {
	n, err := strconv.Atoi(c.FormValue("offset"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (a *app) adminUsers(c echo.Context) error {
	return a.renderUsers(c, http.StatusOK, Form{}, nil)
}

// renderUsers shows the users page; after a form post (a new user, a
// link) it answers the post itself, so a one-time link is never in a URL
// or a cookie. The list keeps the search and page the admin was on.
func (a *app) renderUsers(c echo.Context, status int, form Form, link *issuedLink) error {
	q, offset := c.FormValue("q"), offsetParam(c)
	cl, ctx, cancel := a.api(c)
	defer cancel()
	list, err := cl.ListUsers(ctx, client.ListUsersParams{Limit: usersPerPage, Offset: offset, Query: q})
	if err != nil {
		return err
	}
	lockouts, err := cl.Lockouts(ctx)
	if err != nil {
		return err
	}
	data := usersData{Query: q, Users: list.Items, Lockouts: lockouts.Items, Link: link,
		Mail:  a.capabilities(c).PasswordRecovery,
		Pager: newPager("/admin/users", url.Values{"q": {q}}, offset, usersPerPage, list.Total)}
	v := a.newView(c, "Users", "admin", data)
	v.Form = form
	return c.Render(status, "admin_users", v)
}

// backToUsers returns to the list the admin was looking at.
func backToUsers(c echo.Context) string {
	return "/admin/users?" + url.Values{"q": {c.FormValue("q")}, "offset": {c.FormValue("offset")}}.Encode()
}

func (a *app) setRole(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	u, err := cl.SetRole(ctx, c.Param("id"), c.FormValue("role"))
	if err != nil {
		var p *api.Problem
		if asProblem(err, &p) && (p.Status == http.StatusConflict || p.Status == http.StatusUnprocessableEntity) {
			a.setFlash(c, explain(err).Message)
			return redirect(c, backToUsers(c))
		}
		return err
	}
	a.setFlash(c, u.Email+" is now "+u.Role+".")
	return redirect(c, backToUsers(c))
}

func (a *app) deleteUser(c echo.Context) error {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	if err := cl.DeleteUser(ctx, c.Param("id")); err != nil {
		var p *api.Problem
		if asProblem(err, &p) && (p.Status == http.StatusConflict || p.Status == http.StatusNotFound) {
			a.setFlash(c, explain(err).Message)
			return redirect(c, backToUsers(c))
		}
		return err
	}
	email := c.FormValue("email")
	if email == "" {
		email = "The user"
	}
	a.setFlash(c, email+" was deleted.")
	return redirect(c, backToUsers(c))
}
