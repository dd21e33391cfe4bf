package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/backend/internal/openapi"
	"github.com/duckgate/duckgate/shared/api"
)

// RouterConfig is everything the router wires together.
type RouterConfig struct {
	Logger       *slog.Logger
	Metrics      *Metrics
	Handlers     Handlers
	RequireUser  gin.HandlerFunc // authenticates the bearer token or API key (401 without)
	RequireAdmin gin.HandlerFunc // runs after RequireUser (403 for non-admins)
	// RequireScope admits API keys on a route of this scope only ("": none).
	RequireScope func(scope string) gin.HandlerFunc
	// RateLimit admits metered requests within the per-minute limits.
	RateLimit gin.HandlerFunc
	Limits    BodyLimits
	// BodyReadTimeout bounds reading a request body (plus a second per
	// 64 KiB); 0 leaves it unbounded.
	BodyReadTimeout time.Duration
	CORSOrigins     []string
	// TrustedProxies are the CIDRs whose X-Forwarded-For names the client.
	TrustedProxies []string
	// Ready reports whether the dependencies (the database) can serve.
	// checks says what was checked (for people); ready is the verdict.
	Ready   func(ctx context.Context) (checks map[string]string, ready bool)
	Version string
	Commit  string
	// MetricsElsewhere: /metrics is served on a separate listener
	// (METRICS_ADDR), so the main one answers 404 for it.
	MetricsElsewhere bool
	// Docs serves the OpenAPI document (/openapi.json) and the interactive
	// docs page (/docs and its assets).
	Docs http.Handler
}

// NewRouter builds the gin engine: the edge middleware in order, then every
// row of the route table behind its body limit and access check.
func NewRouter(cfg RouterConfig) (*gin.Engine, error) {
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
	)
	r.NoRoute(OpenAIErrorsUnder("/v1/"), NoRoute())
	r.NoMethod(OpenAIErrorsUnder("/v1/"), NoMethod())

	ops := &operations{cfg: cfg}
	for _, rt := range routes(cfg.Handlers, ops, cfg.Limits) {
		var chain []gin.HandlerFunc
		if rt.OpenAI {
			chain = append(chain, OpenAIErrors())
		}
		chain = append(chain, BodyLimit(rt.MaxBody, cfg.BodyReadTimeout))
		if rt.Auth != Public {
			chain = append(chain, cfg.RequireUser, cfg.RequireScope(rt.Scope))
		}
		if rt.Auth == Admin {
			chain = append(chain, cfg.RequireAdmin)
		}
		if rt.Metered {
			chain = append(chain, cfg.RateLimit)
		}
		r.Handle(rt.Method, openapi.GinPath(rt.Path), append(chain, rt.Handler)...)
	}
	return r, nil
}

// Document is the OpenAPI document of the route table, as JSON.
func Document(info openapi.Info, limits BodyLimits) ([]byte, error) {
	return openapi.Build(info, Operations(limits))
}

// Operations are the documented rows of the route table.
func Operations(limits BodyLimits) []openapi.Operation {
	var ops []openapi.Operation
	for _, rt := range routes(Handlers{}, nil, limits) {
		if !rt.Hidden {
			ops = append(ops, openapi.Operation{Method: rt.Method, Path: rt.Path, Auth: rt.Auth.String(), KeyScope: rt.Scope,
				Metered: rt.Metered, OpenAI: rt.OpenAI, MaxBodyBytes: rt.MaxBody, Doc: rt.Doc})
		}
	}
	return ops
}

// operations serves the operational endpoints: health, readiness, metrics
// and the docs.
type operations struct{ cfg RouterConfig }

func (o *operations) healthz(c *gin.Context) {
	httpx.JSON(c, http.StatusOK, api.Health{Status: "ok", Version: o.cfg.Version, Commit: o.cfg.Commit})
}

func (o *operations) readyz(c *gin.Context) {
	checks, ready := o.cfg.Ready(c.Request.Context())
	status, code := "ok", http.StatusOK
	if !ready {
		status, code = "unavailable", http.StatusServiceUnavailable
	}
	httpx.JSON(c, code, api.Health{Status: status, Version: o.cfg.Version, Commit: o.cfg.Commit, Checks: checks})
}

func (o *operations) metrics(c *gin.Context) {
	if o.cfg.MetricsElsewhere {
		httpx.Abort(c, httpx.ErrNoRoute)
		return
	}
	o.cfg.Metrics.Handler().ServeHTTP(c.Writer, c.Request)
}

func (o *operations) docs(c *gin.Context) {
	if o.cfg.Docs == nil {
		httpx.Abort(c, httpx.ErrNoRoute)
		return
	}
	o.cfg.Docs.ServeHTTP(c.Writer, c.Request)
}
