package config

import (
	"fmt"
	"os"
	"path/filepath"
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

// The table is the source of truth: Load asks for exactly the variables it
// lists, so `frontend env` (and the deploy checks built on it) can't drift
// from what the program really reads.
func TestLoadReadsExactlyTheDocumentedVariables(t *testing.T) {
	read := map[string]bool{}
	if _, err := Load(func(k string) string { read[k] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, v := range Vars() {
		if documented[v.Name] {
			t.Errorf("%s is listed twice", v.Name)
		}
		documented[v.Name] = true
		if !read[v.Name] {
			t.Errorf("%s is documented but Load never reads it", v.Name)
		}
	}
	for name := range read {
		if base, isFile := strings.CutSuffix(name, "_FILE"); isFile && documented[base] && secretVar(base) {
			continue // secrets may come from a file
		}
		if !documented[name] {
			t.Errorf("Load reads %s, which Vars does not document", name)
		}
	}
}

// Setting every variable to its documented default changes nothing: the
// defaults printed for operators are the ones the program applies.
func TestDocumentedDefaultsAreTheAppliedOnes(t *testing.T) {
	implicit, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	explicit := map[string]string{}
	for _, v := range Vars() {
		explicit[v.Name] = v.Default
	}
	spelled, err := Load(env(explicit))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", implicit) != fmt.Sprintf("%+v", spelled) {
		t.Fatalf("defaults differ:\nimplicit %+v\nexplicit %+v", implicit, spelled)
	}
}

func secretVar(name string) bool {
	for _, v := range Vars() {
		if v.Name == name {
			return v.Secret
		}
	}
	return false
}

func TestCSRFSecretFromTheEnvironmentOrAFile(t *testing.T) {
	secret := strings.Repeat("s", 40)
	cfg, err := Load(env(map[string]string{"CSRF_SECRET": secret}))
	if err != nil || string(cfg.CSRFSecret) != secret {
		t.Fatalf("CSRF_SECRET: %q, %v", cfg.CSRFSecret, err)
	}
	file := filepath.Join(t.TempDir(), "csrf")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(env(map[string]string{"CSRF_SECRET_FILE": file}))
	if err != nil || string(cfg.CSRFSecret) != secret {
		t.Fatalf("CSRF_SECRET_FILE: %q, %v", cfg.CSRFSecret, err)
	}
	cfg, err = Load(env(nil))
	if err != nil || cfg.CSRFSecret != nil {
		t.Fatalf("unset: %q, %v; want none (the process makes one)", cfg.CSRFSecret, err)
	}
	for name, kv := range map[string]map[string]string{
		"too short": {"CSRF_SECRET": "short"},
		"both":      {"CSRF_SECRET": secret, "CSRF_SECRET_FILE": file},
		"no file":   {"CSRF_SECRET_FILE": filepath.Join(t.TempDir(), "missing")},
	} {
		if _, err := Load(env(kv)); err == nil || !strings.Contains(err.Error(), "CSRF_SECRET") {
			t.Errorf("%s: err = %v, want one naming CSRF_SECRET", name, err)
		}
	}
	if _, err := Load(env(map[string]string{"CSRF_SECRET": strings.Repeat("x", 20)})); err == nil || strings.Contains(err.Error(), "xxxx") {
		t.Errorf("a rejected secret is echoed in the error: %v", err)
	}
}

func TestBackendURLTakesAList(t *testing.T) {
	cfg, err := Load(env(map[string]string{"BACKEND_URL": " http://backend-1:8000, http://backend-2:8000 ,"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.BackendURLs) != 2 || cfg.BackendURLs[1].Host != "backend-2:8000" || cfg.BackendURL != cfg.BackendURLs[0] {
		t.Fatalf("backends %v (first %v)", cfg.BackendURLs, cfg.BackendURL)
	}
	if cfg, _ := Load(env(nil)); len(cfg.BackendURLs) != 1 {
		t.Fatalf("the default is one backend: %v", cfg.BackendURLs)
	}
	for _, bad := range []string{"http://a:1,ftp://b", "http://a:1/api,http://b:1/other", ","} {
		if _, err := Load(env(map[string]string{"BACKEND_URL": bad})); err == nil || !strings.Contains(err.Error(), "BACKEND_URL") {
			t.Errorf("BACKEND_URL=%q: %v", bad, err)
		}
	}
}
