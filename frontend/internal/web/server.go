// Package web is the browser application: server-rendered pages, their
// forms and scripts, the static assets, and the wiring of the /api proxy.
package web

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/duckgate/duckgate/frontend/internal/session"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// Deps are what the application needs from the outside.
type Deps struct {
	Backend      *client.Client // anonymous client of the backend API
	Sessions     *session.Manager
	Proxy        http.Handler // serves /api/*
	Logger       *slog.Logger
	CookieSecure bool
	// CSRFSecret keys the CSRF tokens' HMAC; every replica needs the same
	// one. Empty: a random one for this process.
	CSRFSecret     []byte
	BackendTimeout time.Duration // bound of one page's backend calls
	Version        string        // build version, shown by /healthz
	Commit         string        // build commit, shown by /healthz
}

// app holds the handlers' dependencies; one method per page or action.
type app struct {
	Deps
	renderer *Renderer
	csrf     *csrfGuard
}

// New builds the echo server with every route. It fails when a template or
// an asset is broken, so that shows at start-up.
func New(d Deps) (*echo.Echo, error) {
	assets, err := LoadAssets()
	if err != nil {
		return nil, err
	}
	renderer, err := NewRenderer(assets)
	if err != nil {
		return nil, err
	}
	if d.BackendTimeout == 0 {
		d.BackendTimeout = 30 * time.Second
	}
	if len(d.CSRFSecret) == 0 {
		d.CSRFSecret = make([]byte, 32)
		_, _ = rand.Read(d.CSRFSecret)
	}
	a := &app{Deps: d, renderer: renderer, csrf: newCSRFGuard(d.CSRFSecret, d.CookieSecure)}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The frontend is the edge: the browser's address is the peer's, never a
	// header the browser could forge.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Renderer = renderer
	e.HTTPErrorHandler = a.errorHandler(d.Logger, renderer)

	e.Use(requestID, accessLog(d.Logger), middleware.Recover(), securityHeaders(d.CookieSecure))
	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	e.GET("/static/*", assets.serve)

	// Everything else knows the session and is CSRF-protected.
	site := e.Group("", d.Sessions.Middleware(), a.csrf.protect)
	site.Any("/api/*", echo.WrapHandler(d.Proxy))

	// Pages are small and compressible; the proxy above must never be
	// buffered by a compressor, so gzip applies to this group only. Level 1:
	// on a few KB of HTML the default level costs about 150 µs of CPU per
	// page, BestSpeed about 95 µs, for a few per cent more bytes (the static
	// assets are compressed once, at start-up, with the best level).
	pages := site.Group("", middleware.GzipWithConfig(middleware.GzipConfig{Level: gzip.BestSpeed, MinLength: 1024}),
		middleware.BodyLimit("64K"), a.loadUser)
	pages.GET("/", a.home)
	pages.GET("/register", a.registerPage)
	pages.POST("/register", a.register)
	pages.GET("/login", a.loginPage)
	pages.POST("/login", a.login)
	pages.GET("/forgot", a.forgotPage)
	pages.POST("/forgot", a.forgot)
	pages.GET("/reset", a.resetPage)
	pages.POST("/reset", a.reset)
	pages.POST("/logout", a.logout)

	user := pages.Group("", requireUser)
	user.GET("/profile", a.profile)
	user.POST("/profile/email", a.changeEmail)
	user.POST("/profile/password", a.changePassword)
	user.POST("/profile/sessions/:id/revoke", a.revokeSession)
	user.POST("/profile/sessions/revoke-others", a.revokeOtherSessions)
	user.POST("/profile/api-keys", a.createAPIKey)
	user.POST("/profile/api-keys/:id/revoke", a.revokeAPIKey)
	user.GET("/usage", a.usage)
	user.GET("/chat", a.chat)
	user.POST("/chat/:id/rename", a.renameConversation)
	user.POST("/chat/:id/pin", a.pinConversation)
	user.POST("/chat/:id/delete", a.deleteConversation)
	user.GET("/images", a.images)
	user.POST("/images/:id/delete", a.deleteImage)
	user.GET("/videos", a.videos)

	admin := user.Group("/admin")
	admin.GET("", a.adminOverview)
	admin.POST("/tokens/purge", a.purgeTokens)
	admin.GET("/users", a.adminUsers)
	admin.POST("/users", a.createUser)
	admin.POST("/users/:id/password-reset", a.resetLink)
	admin.POST("/users/:id/sign-out", a.signOutUser)
	admin.POST("/lockouts/:id/lift", a.liftLockout)
	admin.POST("/users/:id/role", a.setRole)
	admin.POST("/users/:id/delete", a.deleteUser)
	admin.GET("/audit", a.adminAudit)
	return e, nil
}

// api returns a backend client acting for the signed-in browser, and a
// context carrying the request id and the browser's address.
func (a *app) api(c echo.Context) (*client.Client, context.Context, context.CancelFunc) {
	r := c.Request()
	ctx, cancel := context.WithTimeout(r.Context(), a.BackendTimeout)
	ctx = client.WithRequestID(ctx, RequestID(r.Context()))
	ctx = client.WithForwarded(ctx, c.RealIP(), r.UserAgent())
	cl := a.Backend
	if s := session.From(c); s != nil && s.SignedIn() {
		if tok, err := s.AccessToken(ctx); err == nil {
			cl = cl.WithToken(tok)
		}
	}
	return cl, ctx, cancel
}

// loadUser asks the backend who is signed in, once per page. A rejected
// token is refreshed and asked again; an ended session just means "nobody".
func (a *app) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := session.From(c)
		if s == nil || !s.SignedIn() {
			return next(c)
		}
		u, err := a.me(c)
		if client.IsStatus(err, http.StatusUnauthorized) && s.Refresh(c.Request().Context()) == nil {
			u, err = a.me(c)
		}
		switch {
		case err == nil:
			withUser(c, u)
		case client.IsStatus(err, http.StatusUnauthorized), errors.Is(err, session.ErrEnded):
			s.End()
		default:
			return err
		}
		return next(c)
	}
}

func (a *app) me(c echo.Context) (*api.User, error) {
	cl, ctx, cancel := a.api(c)
	defer cancel()
	return cl.Me(ctx)
}

// requireUser sends anonymous browsers to the sign-in page and back.
func requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if userFrom(c) == nil {
			target := "/login"
			if c.Request().Method == http.MethodGet {
				target += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
			}
			return redirect(c, target)
		}
		return next(c)
	}
}
