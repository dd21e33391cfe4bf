package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/duckgate/duckgate/frontend/internal/problem"
	"github.com/duckgate/duckgate/shared/api"
)

// What a person sees when something fails is decided here, and only here:
// explain turns any error (a backend problem, an echo error, a network
// failure) into the status, heading and message of the message page, and
// the same message is what a form, a flash or a notice shows. The backend
// writes its details for programs ("too many wrong passwords; try again
// later", lower case, Retry-After in seconds); a person reads sentences
// ("Too many wrong passwords. Wait 15 minutes and try again.").

// shown is what a person is told about a failure.
type shown struct {
	Status  int    // of the page
	Title   string // its heading
	Message string // one or two sentences
}

// explain maps err to what a person sees.
func explain(err error) shown {
	var p *api.Problem
	var he *echo.HTTPError
	var netErr net.Error
	switch {
	case errors.As(err, &p):
		return explainProblem(p)
	case errors.As(err, &he):
		msg, _ := he.Message.(string)
		if msg == "" || msg == http.StatusText(he.Code) {
			msg = friendlyStatus(he.Code)
		}
		return shown{Status: he.Code, Title: titleFor(he.Code), Message: sentences(msg)}
	case errors.Is(err, context.DeadlineExceeded):
		return shown{Status: http.StatusGatewayTimeout, Title: titleFor(http.StatusGatewayTimeout),
			Message: "The service took too long to answer. Try again in a moment."}
	case errors.As(err, &netErr):
		return shown{Status: http.StatusBadGateway, Title: titleFor(http.StatusBadGateway),
			Message: "The service could not be reached. Try again in a moment."}
	}
	return shown{Status: http.StatusInternalServerError, Title: titleFor(http.StatusInternalServerError),
		Message: friendlyStatus(http.StatusInternalServerError)}
}

func explainProblem(p *api.Problem) shown {
	status := p.Status
	if status < 400 || status > 599 {
		status = http.StatusBadGateway // the backend answered, but not as it should
	}
	s := shown{Status: status, Title: titleFor(status)}
	switch {
	case status == http.StatusUnauthorized:
		s.Message = "Your session has ended. Sign in again."
	case status == http.StatusForbidden:
		s.Message = "This page is only for administrators, or you are not allowed to do this."
	case status == http.StatusTooManyRequests:
		lead := "Too many requests."
		if first, _, _ := strings.Cut(p.Detail, ";"); strings.TrimSpace(first) != "" {
			lead = sentences(first)
		}
		s.Message = lead + " " + waitAndRetry(p.RetryAfter)
	case len(p.Errors) > 0:
		s.Message = explainFields(p.Errors)
	case p.Detail != "":
		s.Message = sentences(p.Detail)
	case p.Title != "" && p.Title != http.StatusText(p.Status):
		s.Message = sentences(p.Title)
	default:
		s.Message = friendlyStatus(status)
	}
	return s
}

// explainFields writes the backend's field errors ({"field": "content",
// "message": "is 300 KB; a message may hold at most 256 KB"}) as what to
// change ("That message is too long: shorten it to 256 KB."). app.js
// problemMessage writes the same sentences for pages' scripts.
func explainFields(errs []api.FieldError) string {
	out := make([]string, 0, len(errs))
	for _, fe := range errs {
		name := fieldName(fe.Field)
		if m := atMostSize.FindStringSubmatch(fe.Message); m != nil {
			out = append(out, fmt.Sprintf("That %s is too long: shorten it to %s.", name, m[1]))
			continue
		}
		out = append(out, sentences(name+" "+fe.Message))
	}
	return strings.Join(out, " ")
}

var (
	atMostSize = regexp.MustCompile(`at most (\d+ [KMG]i?B)`)
	arrayIndex = regexp.MustCompile(`\[\d+\]`)
)

// fieldName is how a person calls a field of the API: "messages[2].content"
// and "content" are a message, "system_prompt" a system prompt.
func fieldName(field string) string {
	field = arrayIndex.ReplaceAllString(field, "")
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		field = field[i+1:]
	}
	switch field {
	case "content", "messages":
		return "message"
	case "":
		return "what you sent"
	}
	return strings.ReplaceAll(field, "_", " ")
}

// aiNotice is the notice of an AI page whose model list did not load.
// Without AI configured (503) a person reads that AI is not available here
// yet; only admins also get the backend's hint for the operator.
func aiNotice(err error, admin bool) string {
	const unavailable = "AI is not available on this server yet."
	var p *api.Problem
	if errors.As(err, &p) && p.Status == http.StatusServiceUnavailable {
		if admin && p.Detail != "" {
			return unavailable + " " + sentences(p.Detail)
		}
		return unavailable
	}
	return "The model list could not be loaded. " + explain(err).Message
}

// titleFor is the heading of the message page for a status.
func titleFor(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "Signed out"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusRequestEntityTooLarge:
		return "Too large"
	case http.StatusUnprocessableEntity:
		return "Check what you entered"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return "Service unavailable"
	}
	if status >= 500 {
		return "Something went wrong"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Something went wrong"
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
		return "Something went wrong on our side. Try again in a moment."
	}
	if t := http.StatusText(code); t != "" {
		return t + "."
	}
	return "Something went wrong."
}

// waitAndRetry says how long to wait, in the unit a person would use.
func waitAndRetry(seconds int) string {
	switch {
	case seconds <= 0:
		return "Wait a moment and try again."
	case seconds < 60:
		return fmt.Sprintf("Wait %s and try again.", plural(seconds, "second"))
	case seconds < 3600:
		return fmt.Sprintf("Wait %s and try again.", plural((seconds+59)/60, "minute"))
	default:
		return fmt.Sprintf("Wait %s and try again.", plural((seconds+3599)/3600, "hour"))
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// sentences turns a detail written for programs into sentences: each
// clause separated by "; " starts with a capital letter and ends with a
// full stop.
func sentences(detail string) string {
	var out []string
	for _, clause := range strings.Split(detail, ";") {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			continue
		}
		r, size := utf8.DecodeRuneInString(clause)
		clause = string(unicode.ToUpper(r)) + clause[size:]
		if last, _ := utf8.DecodeLastRuneInString(clause); !strings.ContainsRune(".!?…", last) {
			clause += "."
		}
		out = append(out, clause)
	}
	return strings.Join(out, " ")
}

// errorHandler renders every error as the one message page, or, for /api
// and other non-HTML callers, as a problem detail with the same message, so
// a person never sees raw JSON or a blank page. Causes are logged, never
// shown.
func (a *app) errorHandler(log *slog.Logger, renderer *Renderer) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		s := explain(err)
		r := c.Request()
		if s.Status >= 500 {
			log.ErrorContext(r.Context(), "request failed", "err", err, "path", r.URL.Path,
				"request_id", RequestID(r.Context()))
		}
		if strings.HasPrefix(r.URL.Path, "/api/") || !acceptsHTML(r) {
			problem.Write(c.Response(), problem.New(s.Status, s.Message, RequestID(r.Context())))
			return
		}
		view := a.newView(c, s.Title, "", nil)
		view.Notice = s.Message
		c.Response().Header().Set("Content-Type", echo.MIMETextHTMLCharsetUTF8)
		c.Response().WriteHeader(s.Status)
		if rerr := renderer.Render(c.Response(), "message", view, c); rerr != nil {
			log.ErrorContext(r.Context(), "render error page", "err", rerr)
		}
	}
}

func acceptsHTML(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return a == "" || strings.Contains(a, "text/html") || strings.Contains(a, "*/*")
}

// asProblem is errors.As for backend problems.
func asProblem(err error, p **api.Problem) bool { return errors.As(err, p) }

// Account links (/reset): what a person reads when theirs cannot be used.
// The backend does not say which of the reasons applies, on purpose.
const linkIncomplete = "This link is incomplete. Open it exactly as it arrived, or copy all of it into the address bar."

// unusableLink is the sentence for a reset or invitation link that has
// expired, was used already, or was replaced by a newer one.
func unusableLink(invite bool) string {
	if invite {
		return "This invitation has expired, was already used, or was replaced by a newer one. " +
			"Ask your administrator to send you a new one."
	}
	return "This link has expired, was already used, or was replaced by a newer one. " +
		"Ask for a new one, and use the newest link you received."
}

// adminProblem is the flash an admin reads when an action on a user or a
// lock-out failed for a reason worth a sentence (gone, conflict, invalid);
// ok is false for failures that deserve the message page.
func adminProblem(err error, what string) (msg string, ok bool) {
	var p *api.Problem
	if !asProblem(err, &p) {
		return "", false
	}
	switch p.Status {
	case http.StatusNotFound:
		return "That " + what + " no longer exists: it may have ended or been removed meanwhile. The list below is up to date.", true
	case http.StatusConflict, http.StatusUnprocessableEntity, http.StatusBadRequest:
		return explain(err).Message, true
	case http.StatusServiceUnavailable:
		return explain(err).Message, true
	}
	return "", false
}
