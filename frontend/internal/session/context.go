package session

import (
	"context"
	"net"
	"net/http"

	"github.com/labstack/echo/v4"
)

type ctxKey struct{}

// NewContext returns ctx carrying s.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the request's session, or nil outside the middleware.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// From returns the session of an echo request.
func From(c echo.Context) *Session { return FromContext(c.Request().Context()) }

// Middleware loads the session of every request into its context and, when
// the access token is missing or about to expire, refreshes it up front, so
// that handlers and the proxy mostly find a valid token.
func (m *Manager) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			s := m.Load(c.Response(), r, clientIP(r))
			ctx := NewContext(r.Context(), s)
			c.SetRequest(r.WithContext(ctx))
			if s.SignedIn() {
				// Errors are not fatal here: an ended session has cleared its
				// cookies, and a backend outage surfaces in the handler.
				_, _ = s.AccessToken(ctx)
			}
			return next(c)
		}
	}
}

// clientIP is the browser's address as this server sees it. The frontend is
// the edge here; behind a load balancer, extend this to trust its header.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
