// Command frontend serves the duckgate browser application: server-rendered
// pages, their assets, and the /api proxy to the backend.
//
//	frontend                serve (the default)
//	frontend healthcheck    probe /readyz of a running frontend (for containers)
//	frontend env            print the environment variables it reads, as JSON
//	frontend version        print the build
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/duckgate/duckgate/frontend/internal/balance"
	"github.com/duckgate/duckgate/frontend/internal/config"
	"github.com/duckgate/duckgate/frontend/internal/proxy"
	"github.com/duckgate/duckgate/frontend/internal/session"
	"github.com/duckgate/duckgate/frontend/internal/web"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
	"github.com/duckgate/duckgate/shared/logbuf"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "frontend:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

const usage = `usage:
  frontend [serve]
  frontend healthcheck
  frontend env
  frontend version
Every command answers -h/--help with its own usage.`

// commands says what each command does, for its -h/--help.
var commands = map[string]string{
	"serve":       "Serve the browser application and its /api proxy. The environment configures it (`frontend env` lists every variable).",
	"healthcheck": "Probe /readyz of the frontend listening on FRONTEND_ADDR; exit non-zero unless it is ready (it reaches the backend).",
	"env":         "Print the environment variables the frontend reads, with their defaults and meaning, as JSON.",
	"version":     "Print the build (version and commit).",
}

// run dispatches the command line; main only supplies the process's
// environment, so tests can run it in-process with their own.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "--version", "-version":
		cmd = "version"
	case "help", "-h", "--help":
		_, err := fmt.Fprintln(stdout, usage)
		return err
	}
	about, known := commands[cmd]
	if !known {
		return usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
	}
	// No command takes flags or arguments but -h/--help, which prints its
	// usage and does nothing else.
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
			_, err := fmt.Fprintf(stdout, "usage: frontend %s\n\n%s\n", cmd, about)
			return err
		}
		return usageError{fmt.Sprintf("frontend %s: unexpected argument %q\nusage: frontend %s", cmd, args[0], cmd)}
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "env":
		return printVars(stdout)
	default: // version
		_, err := fmt.Fprintf(stdout, "frontend %s (commit %s)\n", version, commit)
		return err
	}
}

// serve wires configuration, backend client, sessions, proxy and pages,
// serves until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	// Log lines are batched (see shared/logbuf): within 100 ms, errors at once.
	logs := logbuf.New(stdout, 0)
	defer logs.Close() // runs last: writes the final lines
	logger := slog.New(logbuf.FlushAt(slog.NewJSONHandler(logs, nil), logs, slog.LevelError)).With("service", "frontend")

	// One pool of connections to the backend serves both the pages' calls
	// (the typed client) and the /api proxy; with several backends, calls
	// are spread over those that are ready.
	var transport http.RoundTripper = proxy.NewTransport()
	if len(cfg.BackendURLs) > 1 {
		pool := balance.New(cfg.BackendURLs, transport, balance.Options{Logger: logger})
		defer pool.Close()
		transport = pool
	}
	backend := client.New(cfg.BackendURL.String(),
		client.WithHTTPClient(&http.Client{Transport: transport}),
		client.WithUserAgent("duckgate-frontend/"+version))
	sessions := session.NewManager(func(ctx context.Context, refreshToken, ip, ua string) (*api.TokenPair, error) {
		return backend.Refresh(client.WithForwarded(ctx, ip, ua), refreshToken)
	}, session.Options{Secure: cfg.CookieSecure, SessionTTL: cfg.SessionTTL})

	e, err := web.New(web.Deps{
		Backend:  backend,
		Sessions: sessions,
		Proxy: proxy.New(cfg.BackendURL, proxy.Options{
			ReplayBytes: cfg.ProxyReplayBytes,
			Transport:   transport,
			Logger:      logger,
			RequestID:   func(r *http.Request) string { return web.RequestID(r.Context()) },
		}),
		Logger:         logger,
		CookieSecure:   cfg.CookieSecure,
		CSRFSecret:     cfg.CSRFSecret,
		BackendTimeout: cfg.BackendTimeout,
		Version:        version,
		Commit:         commit,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// No write timeout: chat streams and video downloads may last minutes.
	}
	logger.Info("frontend listening", "addr", ln.Addr().String(), "backends", len(cfg.BackendURLs), "backend", cfg.BackendURL.String(), "version", version)
	if len(cfg.CSRFSecret) == 0 {
		logger.Warn("CSRF_SECRET is unset: this process made a random one; replicas behind one address need the same CSRF_SECRET")
	}
	_ = logs.Flush() // the start-up lines show at once

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}
