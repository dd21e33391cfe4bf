// Package config reads the frontend's configuration from the environment
// once, validates it and hands out a typed struct. The table in Vars is the
// single source of truth of names and defaults: Load reads exactly those
// variables, and `frontend env` prints the table for operators and the
// deploy checks.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the frontend's whole configuration.
type Config struct {
	// Addr is the listen address (FRONTEND_ADDR).
	Addr string
	// BackendURL is where the backend API is (BACKEND_URL): the first of
	// BackendURLs.
	BackendURL *url.URL
	// BackendURLs are every backend replica of a comma-separated
	// BACKEND_URL; calls are spread over them (package balance). They share
	// one path, if any: a request keeps its own and changes host only.
	BackendURLs []*url.URL
	// CookieSecure marks every cookie Secure (COOKIE_SECURE), for HTTPS.
	CookieSecure bool
	// SessionTTL is how long the refresh-token cookie of a kept sign-in
	// ("keep me signed in") lives (SESSION_TTL);
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
	// CSRFSecret keys the HMAC of the CSRF tokens (CSRF_SECRET or
	// CSRF_SECRET_FILE). Empty when unset: the process makes a random one,
	// which serves a single replica; several replicas need the same secret.
	CSRFSecret []byte
}

// minCSRFSecret is the shortest CSRF secret accepted, in bytes.
const minCSRFSecret = 32

// Var documents one environment variable; its JSON form is what
// `frontend env` prints (the same shape as `backend env`).
type Var struct {
	Name    string `json:"name"`
	Default string `json:"default"`
	Help    string `json:"help"`
	// Secret values are never logged and may be given as NAME_FILE, a path
	// to read.
	Secret bool `json:"secret"`
}

// Vars lists every variable the frontend reads, with its default.
func Vars() []Var {
	return []Var{
		{"FRONTEND_ADDR", "127.0.0.1:8080", "listen address (host:port)", false},
		{"BACKEND_URL", "http://127.0.0.1:8000", "where the backend API is; a comma-separated list of replicas spreads the calls over those that are ready", false},
		{"COOKIE_SECURE", "false", "mark every cookie Secure; set true behind HTTPS", false},
		{"SESSION_TTL", "720h", "lifetime of the session cookie of a sign-in with \"keep me signed in\" (Go duration; without it the cookie ends with the browser session); match the backend's REFRESH_TOKEN_TTL", false},
		{"PROXY_REPLAY_BYTES", "1048576", "largest /api request body buffered so it can be replayed after a token refresh", false},
		{"BACKEND_TIMEOUT", "30s", "bound of the backend calls one page makes (Go duration)", false},
		{"SHUTDOWN_TIMEOUT", "15s", "bound of the graceful shutdown (Go duration)", false},
		{"CSRF_SECRET", "", "key of the CSRF tokens' HMAC, at least 32 bytes (or CSRF_SECRET_FILE); unset: random per process, so set the same one on every replica", true},
	}
}

// secretValue reads a secret from NAME or from the file NAME_FILE names
// (surrounding white space trimmed); "" when neither is set.
func secretValue(getenv func(string) string, name string) (string, error) {
	value := strings.TrimSpace(getenv(name))
	path := strings.TrimSpace(getenv(name + "_FILE"))
	if path == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("set either %s or %s_FILE, not both", name, name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Load builds a Config from getenv, applying defaults and validating values.
// Every invalid value is reported, not just the first.
func Load(getenv func(string) string) (Config, error) {
	defaults := map[string]string{}
	for _, v := range Vars() {
		defaults[v.Name] = v.Default
	}
	var errs []error
	value := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return defaults[name]
	}
	dur := func(name string) time.Duration {
		v := value(name)
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive Go duration, got %q", name, v))
		}
		return d
	}

	cfg := Config{
		Addr:            value("FRONTEND_ADDR"),
		SessionTTL:      dur("SESSION_TTL"),
		BackendTimeout:  dur("BACKEND_TIMEOUT"),
		ShutdownTimeout: dur("SHUTDOWN_TIMEOUT"),
	}

	var err error
	cfg.BackendURLs, err = backendURLs(value("BACKEND_URL"))
	if err != nil {
		errs = append(errs, err)
	} else {
		cfg.BackendURL = cfg.BackendURLs[0]
	}

	secure := value("COOKIE_SECURE")
	if cfg.CookieSecure, err = strconv.ParseBool(secure); err != nil {
		errs = append(errs, fmt.Errorf("COOKIE_SECURE: want true or false, got %q", secure))
	}

	replay := value("PROXY_REPLAY_BYTES")
	cfg.ProxyReplayBytes, err = strconv.ParseInt(replay, 10, 64)
	if err != nil || cfg.ProxyReplayBytes < 0 {
		errs = append(errs, fmt.Errorf("PROXY_REPLAY_BYTES: want a byte count, got %q", replay))
	}

	secret, err := secretValue(getenv, "CSRF_SECRET")
	switch {
	case err != nil:
		errs = append(errs, err)
	case secret != "" && len(secret) < minCSRFSecret:
		errs = append(errs, fmt.Errorf("CSRF_SECRET: want at least %d bytes, got %d (e.g. openssl rand -base64 32)", minCSRFSecret, len(secret)))
	case secret != "":
		cfg.CSRFSecret = []byte(secret)
	}

	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// backendURLs parses BACKEND_URL: one http(s) URL or several separated by
// commas, all with the same path.
func backendURLs(raw string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("BACKEND_URL: want an http(s) URL or a comma-separated list of them, got %q", part)
		}
		if len(out) > 0 && strings.TrimRight(u.Path, "/") != strings.TrimRight(out[0].Path, "/") {
			return nil, fmt.Errorf("BACKEND_URL: every backend must have the same path (%q and %q differ)", out[0].Path, u.Path)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("BACKEND_URL: want an http(s) URL, got %q", raw)
	}
	return out, nil
}
