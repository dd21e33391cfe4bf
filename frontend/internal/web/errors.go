package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/shared/api"
)

// problemMessage turns a backend problem into one sentence for a person.
func problemMessage(p *api.Problem) string {
	switch {
	case p.Status == http.StatusTooManyRequests && p.RetryAfter > 0:
		return fmt.Sprintf("Too many attempts. Please wait %d seconds and try again.", p.RetryAfter)
	case p.Status == http.StatusForbidden && p.Detail == "":
		return "You are not allowed to do this."
	case p.Detail != "":
		return p.Detail
	case p.Title != "":
		return p.Title + "."
	}
	return http.StatusText(p.Status)
}

// errorHandler renders every error as the one message page (or, for /api
// and healthz callers, as a problem detail), so a user never sees raw JSON
// or a blank page. Causes are logged, never shown.
func errorHandler(log *slog.Logger, renderer *Renderer) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, title, msg := describe(err)
		if status >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed", "err", err, "path", c.Request().URL.Path,
				"request_id", RequestID(c.Request().Context()))
		}
		if strings.HasPrefix(c.Request().URL.Path, "/api/") || !acceptsHTML(c.Request()) {
			_ = c.JSON(status, api.Problem{Type: "about:blank", Title: title, Status: status, Detail: msg})
			return
		}
		view := newView(c, title, "", nil)
		view.Notice = msg
		c.Response().Header().Set("Content-Type", echo.MIMETextHTMLCharsetUTF8)
		c.Response().WriteHeader(status)
		if rerr := renderer.Render(c.Response(), "message", view, c); rerr != nil {
			log.ErrorContext(c.Request().Context(), "render error page", "err", rerr)
		}
	}
}

func describe(err error) (status int, title, msg string) {
	var p *api.Problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
		status = p.Status
		if status < 400 {
			status = http.StatusBadGateway
		}
		if p.Status == http.StatusForbidden {
			return status, "Not allowed", "This page is only for administrators, or you are not allowed to do this."
		}
		return status, http.StatusText(status), problemMessage(p)
	case errors.As(err, &he):
		msg, _ := he.Message.(string)
		if msg == "" || msg == http.StatusText(he.Code) {
			msg = friendlyStatus(he.Code)
		}
		return he.Code, http.StatusText(he.Code), msg
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return http.StatusBadGateway, "Service unavailable",
			"The service could not be reached. Please try again in a moment."
	}
	return http.StatusInternalServerError, "Something went wrong", friendlyStatus(http.StatusInternalServerError)
}

func friendlyStatus(code int) string {
	switch code {
	case http.StatusNotFound:
		return "There is no page at this address."
	case http.StatusMethodNotAllowed:
		return "This address does not accept that kind of request."
	case http.StatusRequestEntityTooLarge:
		return "What you sent is too large."
	}
	if code >= 500 {
		return "Something went wrong on our side. Please try again."
	}
	return http.StatusText(code)
}

func acceptsHTML(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return a == "" || strings.Contains(a, "text/html") || strings.Contains(a, "*/*")
}

// asProblem is errors.As for backend problems.
func asProblem(err error, p **api.Problem) bool { return errors.As(err, p) }
