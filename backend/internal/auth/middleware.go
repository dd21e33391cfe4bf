package auth

import (
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/backend/internal/model"
)

type principalKey struct{}

// RequireUser authenticates the bearer token and stores the principal for
// the handlers (read it with PrincipalOf). No or a bad token is a 401.
func (s *Service) RequireUser() gin.HandlerFunc {
	return func(c *gin.Context) {
		header := c.GetHeader("Authorization")
		scheme, token, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			httpx.Abort(c, model.ErrTokenRequired)
			return
		}
		p, err := s.Authenticate(c.Request.Context(), strings.TrimSpace(token), c.ClientIP())
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		c.Set(principalKey{}, p)
		httpx.SetLogUser(c, p.UserID.String())
		c.Next()
	}
}

// RequireAdmin lets only admins through; it runs after RequireUser.
func RequireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !PrincipalOf(c).IsAdmin() {
			httpx.Abort(c, model.ErrAdminOnly)
			return
		}
		c.Next()
	}
}

// RequireScope lets API keys through only on routes that name a scope
// the key holds; scope "" refuses every key (account management, admin).
// Access tokens pass. It runs after RequireUser.
func RequireScope(scope string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := PrincipalOf(c)
		switch {
		case !p.ViaKey():
		case scope == "":
			httpx.Abort(c, model.ErrKeyNotAllowed)
			return
		case !slices.Contains(p.KeyScopes, scope):
			httpx.Abort(c, &model.MissingScopeError{Scope: scope})
			return
		}
		c.Next()
	}
}

// PrincipalOf returns the authenticated caller of a request that passed
// RequireUser.
func PrincipalOf(c *gin.Context) Principal {
	v, _ := c.Get(principalKey{})
	p, _ := v.(Principal)
	return p
}
