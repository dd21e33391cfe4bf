package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/shared/api"
)

// Groups are the three audiences a domain mounts routes for.
type Groups struct {
	Public gin.IRouter // no token needed
	User   gin.IRouter // any signed-in user
	Admin  gin.IRouter // admins only
}

// Module is a domain package's HTTP face (auth, users, admin, ai).
type Module interface {
	Routes(g Groups)
}

// RouterConfig is everything the router wires together.
type RouterConfig struct {
	Logger         *slog.Logger
	Metrics        *Metrics
	RequireUser    gin.HandlerFunc
	RequireAdmin   gin.HandlerFunc
	Modules        []Module
	MaxBodyBytes   int64
	BodyLimits     map[string]int64 // per route template, above MaxBodyBytes
	CORSOrigins    []string
	TrustedProxies []string
	// Ready reports whether the dependencies (the database) can serve.
	Ready   func(ctx context.Context) map[string]string
	Version string
	Commit  string
	// Docs serves the OpenAPI document (/openapi.json) and the interactive
	// docs page (/docs and its assets).
	Docs http.Handler
}

// NewRouter builds the gin engine: the edge middleware in order, the
// operational endpoints, and every module's routes.
func NewRouter(cfg RouterConfig) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode) // no debug route dump; logs go through AccessLog
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.UseRawPath = true // route on the escaped path: an id holding %2F stays one segment
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	// Order matters: logs and metrics wrap everything (panics included);
	// Errors must run before anything that aborts with an error.
	r.Use(
		RequestID(),
		AccessLog(cfg.Logger),
		cfg.Metrics.Middleware(),
		Recovery(cfg.Logger),
		Errors(cfg.Logger),
		SecurityHeaders(),
		CORS(cfg.CORSOrigins),
		BodyLimit(cfg.MaxBodyBytes, RouteLimits(cfg.BodyLimits)),
	)
	r.NoRoute(NoRoute())
	r.NoMethod(NoMethod())

	r.GET("/healthz", func(c *gin.Context) {
		JSON(c, http.StatusOK, api.Health{Status: "ok", Version: cfg.Version, Commit: cfg.Commit})
	})
	r.GET("/readyz", func(c *gin.Context) {
		checks := cfg.Ready(c.Request.Context())
		status, code := "ok", http.StatusOK
		for _, v := range checks {
			if v != "ok" {
				status, code = "unavailable", http.StatusServiceUnavailable
			}
		}
		JSON(c, code, api.Health{Status: status, Version: cfg.Version, Commit: cfg.Commit, Checks: checks})
	})
	r.GET("/metrics", gin.WrapH(cfg.Metrics.Handler()))
	if cfg.Docs != nil {
		docs := gin.WrapH(cfg.Docs)
		r.GET("/openapi.json", docs)
		r.GET("/docs", docs)
		r.GET("/docs/*asset", docs)
	}

	user := r.Group("", cfg.RequireUser)
	g := Groups{Public: r, User: user, Admin: user.Group("", cfg.RequireAdmin)}
	for _, m := range cfg.Modules {
		m.Routes(g)
	}
	return r, nil
}
