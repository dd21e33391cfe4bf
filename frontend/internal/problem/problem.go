// Package problem writes the problem details (RFC 9457) that the frontend
// itself answers to /api callers: what the /api proxy says when it does not
// forward a request (an address that is not the API, a body it could not
// read, a backend it could not reach) and what the echo error handler says
// to /api and other non-HTML callers (a refused CSRF check, a failure of
// our own). The backend's problems pass through the proxy untouched; this
// is the one place the frontend writes its own, in the same shape.
package problem

import (
	"encoding/json"
	"net/http"

	"github.com/duckgate/duckgate/shared/api"
)

// New is a problem with the given status and a detail written for a
// person (the page scripts show it as it is).
func New(status int, detail, requestID string) api.Problem {
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	return api.Problem{Type: TypeFor(status), Title: title, Status: status, Detail: detail, RequestID: requestID}
}

// Write sends p as application/problem+json. Problems are never cached.
func Write(w http.ResponseWriter, p api.Problem) {
	h := w.Header()
	h.Set("Content-Type", api.ProblemContentType)
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// TypeFor is the problem type of a status: the same URIs as the backend's.
func TypeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return api.TypeBadRequest
	case http.StatusUnauthorized:
		return api.TypeUnauthorized
	case http.StatusForbidden:
		return api.TypeForbidden
	case http.StatusNotFound:
		return api.TypeNotFound
	case http.StatusMethodNotAllowed:
		return api.TypeMethodNotAllowed
	case http.StatusRequestTimeout:
		return api.TypeRequestTimeout
	case http.StatusConflict:
		return api.TypeConflict
	case http.StatusRequestEntityTooLarge:
		return api.TypeTooLarge
	case http.StatusUnsupportedMediaType:
		return api.TypeUnsupportedMedia
	case http.StatusUnprocessableEntity:
		return api.TypeValidation
	case http.StatusTooManyRequests:
		return api.TypeRateLimited
	case http.StatusBadGateway:
		return api.TypeUpstream
	case http.StatusServiceUnavailable:
		return api.TypeUnavailable
	case http.StatusGatewayTimeout:
		return api.TypeUpstreamTimeout
	}
	return api.TypeInternal
}
