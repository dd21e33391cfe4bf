package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duckgate/duckgate/backend/internal/accounts"
	"github.com/duckgate/duckgate/backend/internal/admin"
	"github.com/duckgate/duckgate/backend/internal/ai"
	"github.com/duckgate/duckgate/backend/internal/apikeys"
	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/background"
	"github.com/duckgate/duckgate/backend/internal/budgets"
	"github.com/duckgate/duckgate/backend/internal/config"
	"github.com/duckgate/duckgate/backend/internal/httpapi"
	"github.com/duckgate/duckgate/backend/internal/mail"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/openapi"
	"github.com/duckgate/duckgate/backend/internal/users"
	"github.com/duckgate/duckgate/backend/internal/workspace"
	"github.com/duckgate/duckgate/shared/logbuf"
)

// shutdownGrace is how long in-flight requests get to finish on SIGTERM.
const shutdownGrace = 30 * time.Second

func serve(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger, logs := newLogger(stdout, cfg.LogLevel)
	defer logs.Close() // runs last: writes the final lines
	for _, w := range cfg.Warnings {
		logger.Warn("configuration: " + w)
	}
	started := time.Now()

	st, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()

	app, err := assemble(ctx, cfg, st, logger, auth.DefaultPasswordParams)
	if err != nil {
		return err
	}
	if err := bootstrapAdmin(ctx, cfg, app, logger, stderr); err != nil {
		return err
	}
	// Start-up hashed two passwords (the timing dummy and the admin check):
	// ~40 MB of garbage that would otherwise stay resident until the
	// scavenger gets to it. Hand it back now; idle RSS drops by a third.
	debug.FreeOSMemory()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           app.router,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("backend listening", "addr", ln.Addr().String(), "version", version, "commit", commit,
		"engine", st.engine, "database", st.where, "ai_configured", cfg.OpenRouterAPIKey != "", "startup_ms", time.Since(started).Milliseconds())
	_ = logs.Flush() // the start-up lines (a generated admin password among them) show at once

	// The metrics listener is up before the public one answers, so whoever
	// sees /healthz answer can scrape at once.
	errc := make(chan error, 2)
	if cfg.MetricsAddr != "" {
		msrv, err := serveMetrics(cfg.MetricsAddr, app.metrics, logger, errc)
		if err != nil {
			ln.Close()
			return err
		}
		defer msrv.Close()
	}
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "grace", shutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("graceful shutdown incomplete", "err", err)
	}
	app.close()
	logger.Info("stopped")
	return nil
}

// serveMetrics serves /metrics alone on addr (METRICS_ADDR), so operators
// can keep it off the public listener.
func serveMetrics(addr string, metrics http.Handler, logger *slog.Logger, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on METRICS_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("metrics listener: %w", err)
		}
	}()
	logger.Info("metrics listening", "addr", ln.Addr().String())
	return srv, nil
}

// app is the wired backend: everything run needs to serve and stop.
type app struct {
	router       http.Handler
	metrics      http.Handler // GET /metrics, for a separate listener
	auth         *auth.Service
	initialAdmin *initialAdmin
	close        func()
}

// assemble builds services and the router from configuration and a store.
// Passwords are hashed with hashing (production: auth.DefaultPasswordParams).
func assemble(ctx context.Context, cfg config.Config, st *storage, logger *slog.Logger, hashing auth.PasswordParams) (*app, error) {
	tokens, err := loadTokens(cfg)
	if err != nil {
		return nil, err
	}
	hasher := auth.NewHasher(hashing, runtime.NumCPU())
	authSvc := auth.NewService(st, hasher, tokens, auth.Config{RefreshTTL: cfg.RefreshTokenTTL, RefreshGrace: cfg.RefreshReuseGrace,
		ShortTTL:         cfg.ShortSessionTTL,
		LoginMaxFailures: cfg.LoginMaxFailures, LoginLockout: cfg.LoginLockout})
	firstAdmin := &initialAdmin{path: initialAdminPath(cfg.JWTKeyFile), hasher: hasher, store: st, log: logger}
	passwordChanged := func(ctx context.Context, _ model.User) { firstAdmin.removeIfChanged(ctx) }
	usersSvc := users.NewService(st, hasher, authSvc, passwordChanged)
	mailer, err := newMailer(cfg)
	if err != nil {
		return nil, err
	}
	accountsSvc := accounts.NewService(st, hasher, mailer, accounts.Config{PublicURL: cfg.PublicURL, PasswordChanged: passwordChanged}, logger)
	budgetSvc := budgets.NewService(st, budgets.Config{DefaultUSD: cfg.AIMonthlyBudgetUSD,
		RequestsPerMinute: cfg.AIRequestsPerMinute, ReservationTTL: cfg.AITimeout + time.Minute})
	jobs := background.NewMetrics()
	runner := background.NewRunner(st.leader, background.Options{Logger: logger, Metrics: jobs})
	// closed by app.close, after the server stopped
	aiSvc := ai.NewFromConfig(cfg, st, logger, ai.Hooks{Describe: httpapi.Describe, OpenAIError: httpapi.OpenAIErrorFor,
		Budget: budgetSvc, Background: runner})
	workspaceSvc := workspace.NewService(st, aiSvc, logger, nil)
	adminSvc := admin.NewService(st, cfg.BackupDir, nil)

	metrics, err := httpapi.NewMetrics(prometheus.NewRegistry(), append(jobs.Collectors(), st.metrics)...)
	if err != nil {
		return nil, err
	}
	limits := httpapi.BodyLimits{Default: cfg.MaxBodyBytes, Image: cfg.MaxImageBytes}
	doc, err := httpapi.Document(openapi.Info{Title: "duckgate API", Version: version, License: openapi.License}, limits)
	if err != nil {
		return nil, fmt.Errorf("build OpenAPI document: %w", err)
	}
	docs, err := openapi.NewHandler(doc, "duckgate API")
	if err != nil {
		return nil, fmt.Errorf("docs page: %w", err)
	}
	router, err := httpapi.NewRouter(httpapi.RouterConfig{
		Logger:           logger,
		Metrics:          metrics,
		RequireUser:      authSvc.RequireUser(),
		RequireAdmin:     auth.RequireAdmin(),
		RequireScope:     auth.RequireScope,
		RateLimit:        budgetSvc.RateLimit(),
		Limits:           limits,
		BodyReadTimeout:  cfg.BodyReadTimeout,
		MetricsElsewhere: cfg.MetricsAddr != "",
		CORSOrigins:      cfg.CORSOrigins,
		TrustedProxies:   cfg.TrustedProxies,
		Ready:            readiness(st),
		Version:          version,
		Commit:           commit,
		Docs:             docs,
		Handlers: httpapi.Handlers{
			Auth:      auth.NewHandler(authSvc, tokens),
			Users:     users.NewHandler(usersSvc),
			Admin:     admin.NewHandler(adminSvc),
			AI:        ai.NewHandler(aiSvc),
			Workspace: workspace.NewHandler(workspaceSvc),
			Accounts:  accounts.NewHandler(accountsSvc),
			APIKeys:   apikeys.NewHandler(apikeys.NewService(st, nil)),
			Budgets:   budgets.NewHandler(budgetSvc),
			OpenAI:    ai.NewOpenAIHandler(aiSvc),
		},
	})
	if err != nil {
		aiSvc.Close()
		return nil, err
	}
	// Background jobs run on the replica that leads each (see package
	// background); on DuckDB that is always this process.
	stops := []func(){}
	if cfg.BackupInterval > 0 {
		stops = append(stops, adminSvc.ScheduleBackups(runner, cfg.BackupInterval, cfg.BackupKeep, logger))
	}
	if cfg.TokenPurgeInterval > 0 {
		stops = append(stops, adminSvc.SchedulePurge(runner, cfg.TokenPurgeInterval, logger))
	}
	firstAdmin.removeIfChanged(ctx)
	stops = append(stops, authSvc.RecordKeyUses(auth.DefaultKeyUseInterval, func(err error) {
		logger.Warn("recording API key uses failed; they will be retried with the next ones", "err", err)
	}))
	return &app{router: router, metrics: metrics.Handler(), auth: authSvc, initialAdmin: firstAdmin, close: func() {
		for _, stop := range stops {
			stop()
		}
		workspaceSvc.Close() // titles being written use the AI gateway
		accountsSvc.Close()  // reset mail being sent
		aiSvc.Close()
	}}, nil
}

func loadTokens(cfg config.Config) (*auth.Tokens, error) {
	key, _, err := auth.LoadOrCreateKey(cfg.JWTKeyFile)
	if err != nil {
		return nil, err
	}
	var previous []ed25519.PublicKey
	for _, path := range cfg.JWTPreviousKeyFiles {
		pub, err := auth.LoadPublicKey(path)
		if err != nil {
			return nil, err
		}
		previous = append(previous, pub)
	}
	return auth.NewTokens(auth.TokenConfig{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience,
		TTL: cfg.AccessTokenTTL, Skew: 30 * time.Second}, key, previous...)
}

// bootstrapAdmin makes sure an admin exists: ADMIN_EMAIL/ADMIN_PASSWORD when
// given, otherwise admin@localhost with a random password logged once.
func bootstrapAdmin(ctx context.Context, cfg config.Config, a *app, logger *slog.Logger, stderr io.Writer) error {
	email, password, generated := cfg.AdminEmail, cfg.AdminPassword, false
	if email == "" {
		email, password, generated = "admin@localhost", randomPassword(), true
	} else {
		normalized, fe := auth.NormalizeEmail(email)
		if fe != nil {
			return fmt.Errorf("ADMIN_EMAIL: %s", fe.Message)
		}
		email = normalized
	}
	created, err := a.auth.EnsureAdmin(ctx, email, password)
	if err != nil {
		return fmt.Errorf("create initial admin: %w", err)
	}
	if created && generated {
		// The one log record that ever holds a secret (the contract says so).
		logger.Warn("created initial admin", "email", email, "password", password, "file", a.initialAdmin.path)
		if err := a.initialAdmin.write(email, password, stderr); err != nil {
			logger.Warn("the initial admin's password is only in the log", "err", err)
		}
	} else if created {
		logger.Info("created initial admin", "email", email)
	}
	return nil
}

// newMailer is the configured SMTP sender, or nil without SMTP_URL.
func newMailer(cfg config.Config) (mail.Sender, error) {
	if cfg.SMTPURL == "" {
		return nil, nil
	}
	m, err := mail.NewSMTP(cfg.SMTPURL, cfg.MailFrom, mail.Options{})
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	return m, nil
}

func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newLogger logs JSON lines to w at level and above, batched (one write
// per request log costs a busy gateway a tenth of its CPU): lines reach w
// within logbuf.DefaultInterval, errors at once. Close the returned writer
// to write the rest.
func newLogger(w io.Writer, level string) (*slog.Logger, *logbuf.Writer) {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	buffered := logbuf.New(w, 0)
	handler := slog.NewJSONHandler(buffered, &slog.HandlerOptions{Level: l})
	return slog.New(logbuf.FlushAt(handler, buffered, slog.LevelError)), buffered
}
