package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultsMatchTheContract(t *testing.T) {
	c, err := Load(getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8000" || c.DuckDBPath != "data/app.duckdb" || c.JWTKeyFile != "data/jwt-ed25519.pem" {
		t.Errorf("paths: %+v", c)
	}
	if c.AccessTokenTTL != 15*time.Minute || c.RefreshTokenTTL != 720*time.Hour || c.AITimeout != 120*time.Second {
		t.Errorf("durations: %v %v %v", c.AccessTokenTTL, c.RefreshTokenTTL, c.AITimeout)
	}
	if c.MaxBodyBytes != 1<<20 || c.MaxImageBytes != 10<<20 {
		t.Errorf("limits: %d %d", c.MaxBodyBytes, c.MaxImageBytes)
	}
	if c.JWTIssuer != "http://127.0.0.1:8000" || c.JWTAudience != "api" || c.OpenRouterBaseURL != "https://openrouter.ai/api/v1" {
		t.Errorf("issuer/audience/base: %+v", c)
	}
	if len(c.CORSOrigins) != 0 || c.OpenRouterAPIKey != "" {
		t.Errorf("optional values set by default: %+v", c)
	}
}

func TestInvalidValuesAreAllReported(t *testing.T) {
	_, err := Load(getenv(map[string]string{
		"ACCESS_TOKEN_TTL":    "soon",
		"MAX_BODY_BYTES":      "-1",
		"BACKEND_ADDR":        "8000",
		"CORS_ORIGINS":        "example.com",
		"OPENROUTER_BASE_URL": "ftp://x",
		"ADMIN_EMAIL":         "a@b.c",
	}))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, name := range []string{"ACCESS_TOKEN_TTL", "MAX_BODY_BYTES", "BACKEND_ADDR", "CORS_ORIGINS", "OPENROUTER_BASE_URL", "ADMIN_PASSWORD"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestSecretsFromFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("sk-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(getenv(map[string]string{"OPENROUTER_API_KEY_FILE": path}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OpenRouterAPIKey != "sk-secret" {
		t.Errorf("key = %q", c.OpenRouterAPIKey)
	}
	_, err = Load(getenv(map[string]string{"OPENROUTER_API_KEY_FILE": path, "OPENROUTER_API_KEY": "x"}))
	if err == nil {
		t.Error("both NAME and NAME_FILE accepted")
	}
}

func TestListsAreTrimmed(t *testing.T) {
	c, err := Load(getenv(map[string]string{"CORS_ORIGINS": " https://a.example , http://localhost:3000,", "JWT_PREVIOUS_KEY_FILES": "a.pem, b.pem"}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.CORSOrigins, "|") != "https://a.example|http://localhost:3000" || len(c.JWTPreviousKeyFiles) != 2 {
		t.Errorf("lists: %q %q", c.CORSOrigins, c.JWTPreviousKeyFiles)
	}
}

func TestVarsListsEveryContractVariable(t *testing.T) {
	names := map[string]bool{}
	for _, v := range Vars() {
		names[v.Name] = true
	}
	for _, want := range []string{"BACKEND_ADDR", "DUCKDB_PATH", "JWT_KEY_FILE", "JWT_ISSUER", "JWT_AUDIENCE", "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "ADMIN_EMAIL", "ADMIN_PASSWORD", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "AI_TIMEOUT", "AI_DEFAULT_TEXT_MODEL", "AI_DEFAULT_IMAGE_MODEL", "AI_DEFAULT_VIDEO_MODEL", "MAX_BODY_BYTES", "MAX_IMAGE_BYTES", "CORS_ORIGINS"} {
		if !names[want] {
			t.Errorf("Vars() lacks %s", want)
		}
	}
}

func TestShortTokenLifetimesAreAllowedWithAWarning(t *testing.T) {
	c, err := Load(getenv(map[string]string{"ACCESS_TOKEN_TTL": "2s", "REFRESH_TOKEN_TTL": "5s"}))
	if err != nil {
		t.Fatalf("lifetimes of seconds refused: %v", err)
	}
	if c.AccessTokenTTL != 2*time.Second || c.RefreshTokenTTL != 5*time.Second {
		t.Fatalf("lifetimes %v %v", c.AccessTokenTTL, c.RefreshTokenTTL)
	}
	if len(c.Warnings) != 2 || !strings.HasPrefix(c.Warnings[0], "ACCESS_TOKEN_TTL: ") || !strings.HasPrefix(c.Warnings[1], "REFRESH_TOKEN_TTL: ") {
		t.Fatalf("warnings %q", c.Warnings)
	}
	if _, err := Load(getenv(map[string]string{"ACCESS_TOKEN_TTL": "500ms"})); err == nil {
		t.Fatal("a lifetime under 1s was accepted")
	}
	if c, _ := Load(getenv(nil)); len(c.Warnings) != 0 {
		t.Fatalf("the defaults warn: %q", c.Warnings)
	}
}

func TestRefreshReuseGraceAndTrustedProxies(t *testing.T) {
	c, err := Load(getenv(nil))
	if err != nil || c.RefreshReuseGrace != 10*time.Second || len(c.TrustedProxies) != 0 || c.MetricsAddr != "" {
		t.Fatalf("defaults: grace %v, proxies %v, metrics %q, %v", c.RefreshReuseGrace, c.TrustedProxies, c.MetricsAddr, err)
	}
	c, err = Load(getenv(map[string]string{"REFRESH_REUSE_GRACE": "0", "METRICS_ADDR": "127.0.0.1:9100"}))
	if err != nil || c.RefreshReuseGrace != 0 || c.MetricsAddr != "127.0.0.1:9100" {
		t.Fatalf("grace off: %v, metrics %q, %v", c.RefreshReuseGrace, c.MetricsAddr, err)
	}
	if _, err := Load(getenv(map[string]string{"METRICS_ADDR": "9100"})); err == nil {
		t.Fatal("METRICS_ADDR without a host:port accepted")
	}
}

func TestDatabaseURLSelectsPostgreSQL(t *testing.T) {
	c, err := Load(getenv(nil))
	if err != nil || c.Engine() != "duckdb" || c.DatabaseURL != "" || c.DatabaseMaxConns != 16 || c.DatabaseStatementTimeout != 10*time.Second || c.TokenPurgeInterval != time.Hour {
		t.Fatalf("defaults: %q %q %d %v %v, %v", c.Engine(), c.DatabaseURL, c.DatabaseMaxConns, c.DatabaseStatementTimeout, c.TokenPurgeInterval, err)
	}
	const url = "postgres://duckgate:s3cret-pw@db.internal:5432/duckgate?sslmode=require"
	c, err = Load(getenv(map[string]string{"DATABASE_URL": url, "DATABASE_MAX_CONNS": "4", "DATABASE_STATEMENT_TIMEOUT": "0", "TOKEN_PURGE_INTERVAL": "0"}))
	if err != nil || c.Engine() != "postgres" || c.DatabaseURL != url || c.DatabaseMaxConns != 4 || c.DatabaseStatementTimeout != 0 || c.TokenPurgeInterval != 0 {
		t.Fatalf("postgres: %+v, %v", c, err)
	}
	if r := Redacted(url); strings.Contains(r, "s3cret") || !strings.Contains(r, "db.internal:5432/duckgate") {
		t.Fatalf("redacted URL %q", r)
	}
	path := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(path, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(getenv(map[string]string{"DATABASE_URL_FILE": path})); err != nil || c.DatabaseURL != url {
		t.Fatalf("DATABASE_URL_FILE: %q, %v", c.DatabaseURL, err)
	}
	for _, bad := range []string{"mysql://u:s3cret-pw@h/db", "postgres://u:s3cret-pw@h", "s3cret-pw"} {
		_, err := Load(getenv(map[string]string{"DATABASE_URL": bad}))
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Errorf("DATABASE_URL=%q: %v", bad, err)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
	if _, err := Load(getenv(map[string]string{"DATABASE_URL": url, "BACKUP_INTERVAL": "24h"})); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("scheduled backups on PostgreSQL: %v", err)
	}
}
