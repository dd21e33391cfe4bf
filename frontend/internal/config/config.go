// Package config reads the frontend's configuration from the environment
// once, validates it and hands out a typed struct.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Config is the frontend's whole configuration.
type Config struct {
	// Addr is the listen address (FRONTEND_ADDR).
	Addr string
	// BackendURL is where the backend API is (BACKEND_URL).
	BackendURL *url.URL
	// CookieSecure marks every cookie Secure (COOKIE_SECURE), for HTTPS.
	CookieSecure bool
	// SessionTTL is how long the refresh-token cookie lives (SESSION_TTL);
	// it should match the backend's REFRESH_TOKEN_TTL.
	SessionTTL time.Duration
	// ProxyReplayBytes is the largest /api request body that is buffered so
	// that it can be sent again after a token refresh (PROXY_REPLAY_BYTES).
	// Larger bodies stream through and are not retried.
	ProxyReplayBytes int64
	// BackendTimeout bounds the server-side calls a page makes (BACKEND_TIMEOUT).
	BackendTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown (SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
}

// Load builds a Config from getenv, applying defaults and validating values.
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	str := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive Go duration, got %q", name, v))
			return def
		}
		return d
	}

	cfg := Config{
		Addr:            str("FRONTEND_ADDR", "127.0.0.1:8080"),
		SessionTTL:      dur("SESSION_TTL", 720*time.Hour),
		BackendTimeout:  dur("BACKEND_TIMEOUT", 30*time.Second),
		ShutdownTimeout: dur("SHUTDOWN_TIMEOUT", 15*time.Second),
	}

	rawURL := str("BACKEND_URL", "http://127.0.0.1:8000")
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("BACKEND_URL: want an http(s) URL, got %q", rawURL))
	}
	cfg.BackendURL = u

	if v := getenv("COOKIE_SECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("COOKIE_SECURE: want true or false, got %q", v))
		}
		cfg.CookieSecure = b
	}

	cfg.ProxyReplayBytes = 1 << 20
	if v := getenv("PROXY_REPLAY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("PROXY_REPLAY_BYTES: want a byte count, got %q", v))
		}
		cfg.ProxyReplayBytes = n
	}

	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}
