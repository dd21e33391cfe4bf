package config

import (
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.BackendURL.String() != "http://127.0.0.1:8000" || cfg.CookieSecure {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if cfg.SessionTTL != 720*time.Hour || cfg.ProxyReplayBytes != 1<<20 {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestLoadOverrides(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		"FRONTEND_ADDR": ":9999", "BACKEND_URL": "https://api.example", "COOKIE_SECURE": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":9999" || cfg.BackendURL.Host != "api.example" || !cfg.CookieSecure {
		t.Fatalf("overrides not applied: %+v", cfg)
	}
}

func TestLoadRejectsBadValuesAllAtOnce(t *testing.T) {
	_, err := Load(env(map[string]string{
		"BACKEND_URL": "ftp://x", "COOKIE_SECURE": "maybe", "SESSION_TTL": "forever",
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, name := range []string{"BACKEND_URL", "COOKIE_SECURE", "SESSION_TTL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}
