// Package config reads the backend's configuration from the environment
// once, validates it, and hands a typed struct to the rest of the program.
// The table in fields is the single source of truth: Load parses it, Vars
// documents it (README, deploy checks), and nothing else reads os.Getenv.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the backend's validated configuration.
type Config struct {
	Addr string

	DuckDBPath string
	// DatabaseURL selects PostgreSQL when set (postgres://…); empty keeps
	// DuckDB at DuckDBPath. It may hold a password: log Redacted(…) only.
	DatabaseURL              string
	DatabaseMaxConns         int
	DatabaseStatementTimeout time.Duration

	JWTKeyFile          string
	JWTPreviousKeyFiles []string
	JWTIssuer           string
	JWTAudience         string
	AccessTokenTTL      time.Duration
	RefreshTokenTTL     time.Duration
	RefreshReuseGrace   time.Duration
	ShortSessionTTL     time.Duration

	AdminEmail    string
	AdminPassword string

	OpenRouterAPIKey    string
	OpenRouterBaseURL   string
	OpenRouterAppURL    string
	OpenRouterAppTitle  string
	AITimeout           time.Duration
	AIDefaultTextModel  string
	AIDefaultImageModel string
	AIDefaultVideoModel string
	// AIRequestsPerMinute limits the AI calls of a user and of an API key
	// (0: no limit); AIMonthlyBudgetUSD is every user's monthly spending
	// limit unless an admin set theirs (nil: no limit).
	AIRequestsPerMinute int
	AIMonthlyBudgetUSD  *float64

	ImageQuotaBytes int64
	MaxBodyBytes    int64
	BodyReadTimeout time.Duration
	MaxImageBytes   int64
	CORSOrigins     []string
	TrustedProxies  []string

	LoginMaxFailures int
	LoginLockout     time.Duration

	BackupDir      string
	BackupInterval time.Duration
	BackupKeep     int

	TokenPurgeInterval time.Duration

	MetricsAddr string

	SMTPURL   string
	MailFrom  string
	PublicURL string

	LogLevel string

	// Warnings are values that are allowed but unwise (a token lifetime of
	// seconds): the backend logs them at start-up.
	Warnings []string
}

// Var documents one environment variable.
type Var struct {
	Name    string
	Default string
	Help    string
	Secret  bool // may also be given as NAME_FILE; never logged
}

type field struct {
	Var
	parse func(value string) error
}

func (c *Config) fields() []field {
	return []field{
		{Var{"BACKEND_ADDR", "127.0.0.1:8000", "listen address (host:port)", false}, hostPort(&c.Addr)},
		{Var{"DUCKDB_PATH", "data/app.duckdb", "database file; :memory: for a throwaway database", false}, nonEmpty(&c.DuckDBPath)},
		{Var{"DATABASE_URL", "", "empty: DuckDB at DUCKDB_PATH (one process); postgres://user:password@host:5432/db: PostgreSQL, shared by several replicas", true}, postgresURL(&c.DatabaseURL)},
		{Var{"DATABASE_MAX_CONNS", "16", "PostgreSQL: connections each replica's pool may open", false}, positiveInt(&c.DatabaseMaxConns)},
		{Var{"DATABASE_STATEMENT_TIMEOUT", "10s", "PostgreSQL: longest a statement may run (Go duration; 0 turns the bound off); migrations and imports are not bound", false},
			durationOrOff(&c.DatabaseStatementTimeout, time.Millisecond, time.Hour)},
		{Var{"JWT_KEY_FILE", "data/jwt-ed25519.pem", "Ed25519 private key (PEM, PKCS#8); created with mode 0600 on first start if missing", false}, nonEmpty(&c.JWTKeyFile)},
		{Var{"JWT_PREVIOUS_KEY_FILES", "", "comma-separated older private or public keys whose tokens still verify during a key rotation", false}, list(&c.JWTPreviousKeyFiles)},
		{Var{"JWT_ISSUER", "http://127.0.0.1:8000", "iss claim of access tokens", false}, nonEmpty(&c.JWTIssuer)},
		{Var{"JWT_AUDIENCE", "api", "aud claim of access tokens", false}, nonEmpty(&c.JWTAudience)},
		{Var{"ACCESS_TOKEN_TTL", "15m", "access token lifetime (Go duration, at least 1s)", false},
			c.warnBelow(duration(&c.AccessTokenTTL, time.Second, 24*time.Hour), &c.AccessTokenTTL, time.Minute)},
		{Var{"REFRESH_TOKEN_TTL", "720h", "refresh token (session) lifetime (Go duration, at least 1s)", false},
			c.warnBelow(duration(&c.RefreshTokenTTL, time.Second, 24*365*time.Hour), &c.RefreshTokenTTL, time.Hour)},
		{Var{"SHORT_SESSION_TTL", "12h", "lifetime of a session signed in without \"keep me signed in\" (Go duration, at least 1s)", false},
			duration(&c.ShortSessionTTL, time.Second, 24*365*time.Hour)},
		{Var{"REFRESH_REUSE_GRACE", "10s", "how long a rotated refresh token may come back as a retry (a lost answer, two frontends at once) instead of counting as reuse (Go duration; 0 turns it off)", false},
			duration(&c.RefreshReuseGrace, 0, time.Minute)},
		{Var{"ADMIN_EMAIL", "", "on start, if no admin exists, create this admin (with ADMIN_PASSWORD)", false}, str(&c.AdminEmail)},
		{Var{"ADMIN_PASSWORD", "", "password of the bootstrap admin", true}, str(&c.AdminPassword)},
		{Var{"OPENROUTER_API_KEY", "", "OpenRouter key; without it every AI endpoint answers 503", true}, str(&c.OpenRouterAPIKey)},
		{Var{"OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1", "upstream base URL; tests point it at the fake", false}, httpURL(&c.OpenRouterBaseURL)},
		{Var{"OPENROUTER_APP_URL", "", "sent upstream as HTTP-Referer (OpenRouter app attribution)", false}, str(&c.OpenRouterAppURL)},
		{Var{"OPENROUTER_APP_TITLE", "duckgate", "sent upstream as X-Title (OpenRouter app attribution)", false}, str(&c.OpenRouterAppTitle)},
		{Var{"AI_TIMEOUT", "120s", "longest an upstream call may take (504 after)", false}, duration(&c.AITimeout, time.Second, time.Hour)},
		{Var{"AI_DEFAULT_TEXT_MODEL", "openai/gpt-4o-mini", "model for chat and text when a request names none", false}, nonEmpty(&c.AIDefaultTextModel)},
		{Var{"AI_DEFAULT_IMAGE_MODEL", "google/gemini-2.5-flash-image", "model for images when a request names none", false}, nonEmpty(&c.AIDefaultImageModel)},
		{Var{"AI_DEFAULT_VIDEO_MODEL", "google/veo-3.1", "model for videos when a request names none", false}, nonEmpty(&c.AIDefaultVideoModel)},
		{Var{"IMAGE_QUOTA_BYTES", "104857600", "bytes of generated images each user keeps; generating more is refused until they delete some", false}, size(&c.ImageQuotaBytes)},
		{Var{"AI_REQUESTS_PER_MINUTE", "60", "AI generation calls a minute allowed to each user and to each API key (429 with Retry-After above; 0 turns the limit off)", false}, nonNegativeInt(&c.AIRequestsPerMinute)},
		{Var{"AI_MONTHLY_BUDGET_USD", "", "every user's AI spending limit per calendar month in USD unless an admin sets theirs (PUT /users/{id}/budget); 0 allows no AI; unset: no limit", false}, optionalUSD(&c.AIMonthlyBudgetUSD)},
		{Var{"MAX_BODY_BYTES", "1048576", "request body limit in bytes (413 above it)", false}, size(&c.MaxBodyBytes)},
		{Var{"BODY_READ_TIMEOUT", "10s", "time to receive a request body, plus a second per 64 KiB (408 after); bounds clients that trickle bodies to hold connections", false},
			duration(&c.BodyReadTimeout, 100*time.Millisecond, 10*time.Minute)},
		{Var{"MAX_IMAGE_BYTES", "10485760", "body limit of /generate/video/from-image", false}, size(&c.MaxImageBytes)},
		{Var{"CORS_ORIGINS", "", "comma-separated origins allowed to call the API from browsers", false}, origins(&c.CORSOrigins)},
		{Var{"TRUSTED_PROXIES", "", "comma-separated addresses or CIDRs whose X-Forwarded-For is believed (the frontends); none by default", false}, cidrs(&c.TrustedProxies)},
		{Var{"LOGIN_MAX_FAILURES", "5", "failed sign-ins for one email from one address before that pair is locked out (10x locks the email everywhere, 4x locks the address)", false}, positiveInt(&c.LoginMaxFailures)},
		{Var{"LOGIN_LOCKOUT", "15m", "how long a lock-out lasts (Go duration)", false}, duration(&c.LoginLockout, time.Second, 24*time.Hour)},
		{Var{"BACKUP_DIR", "data/backups", "where POST /admin/backup and the schedule write snapshots", false}, nonEmpty(&c.BackupDir)},
		{Var{"BACKUP_INTERVAL", "0", "take a backup this often (Go duration, e.g. 24h); 0 turns the schedule off", false}, optionalDuration(&c.BackupInterval, time.Minute)},
		{Var{"BACKUP_KEEP", "7", "how many backups the schedule keeps (older ones are deleted)", false}, positiveInt(&c.BackupKeep)},
		{Var{"SMTP_URL", "", "mail server for password resets and invitations: smtp://user:pass@host:587 (STARTTLS when offered, required with credentials) or smtps://…:465; empty: no mail", true}, optionalSMTPURL(&c.SMTPURL)},
		{Var{"MAIL_FROM", "", "From address of the mail (required with SMTP_URL), e.g. duckgate <noreply@example.com>", false}, str(&c.MailFrom)},
		{Var{"PUBLIC_URL", "http://127.0.0.1:8080", "the frontend's address as browsers reach it, for links in mail", false}, httpURL(&c.PublicURL)},
		{Var{"TOKEN_PURGE_INTERVAL", "1h", "delete expired and revoked refresh tokens this often, on one replica (Go duration; 0 turns it off)", false},
			optionalDuration(&c.TokenPurgeInterval, time.Second)},
		{Var{"METRICS_ADDR", "", "serve /metrics on this separate listener (host:port) instead of the main one; empty keeps it on the main one", false}, optionalHostPort(&c.MetricsAddr)},
		{Var{"LOG_LEVEL", "info", "debug, info, warn or error", false}, oneOf(&c.LogLevel, "debug", "info", "warn", "error")},
	}
}

// Vars lists every variable the backend reads, with its default.
func Vars() []Var {
	var c Config
	fs := c.fields()
	vars := make([]Var, len(fs))
	for i, f := range fs {
		vars[i] = f.Var
	}
	return vars
}

// Load reads the configuration through getenv (os.Getenv in production, a
// map in tests). Secrets may be given as NAME_FILE, a path to read. Every
// invalid value is reported, not just the first.
func Load(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	for _, f := range c.fields() {
		value, err := lookup(getenv, f.Var)
		warned := len(c.Warnings)
		if err == nil {
			err = f.parse(value)
		}
		for i := warned; i < len(c.Warnings); i++ {
			c.Warnings[i] = f.Name + ": " + c.Warnings[i]
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
		}
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("ADMIN_EMAIL and ADMIN_PASSWORD: set both or neither"))
	}
	if c.SMTPURL != "" && c.MailFrom == "" {
		errs = append(errs, errors.New("MAIL_FROM: required when SMTP_URL is set"))
	}
	if c.DatabaseURL != "" && c.BackupInterval > 0 {
		errs = append(errs, errors.New("BACKUP_INTERVAL: scheduled backups are a DuckDB feature; back PostgreSQL up with its own tools (pg_dump), and leave BACKUP_INTERVAL at 0"))
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 8 {
		errs = append(errs, errors.New("ADMIN_PASSWORD: must be at least 8 characters"))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

func lookup(getenv func(string) string, v Var) (string, error) {
	value := strings.TrimSpace(getenv(v.Name))
	if v.Secret {
		if path := strings.TrimSpace(getenv(v.Name + "_FILE")); path != "" {
			if value != "" {
				return "", fmt.Errorf("set either %s or %s_FILE, not both", v.Name, v.Name)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("read %s_FILE: %w", v.Name, err)
			}
			return strings.TrimSpace(string(b)), nil
		}
	}
	if value == "" {
		return v.Default, nil
	}
	return value, nil
}

func str(dst *string) func(string) error {
	return func(v string) error { *dst = v; return nil }
}

func nonEmpty(dst *string) func(string) error {
	return func(v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		*dst = v
		return nil
	}
}

func oneOf(dst *string, allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				*dst = a
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

func hostPort(dst *string) func(string) error {
	return func(v string) error {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return fmt.Errorf("%q is not host:port", v)
		}
		*dst = v
		return nil
	}
}

func httpURL(dst *string) func(string) error {
	return func(v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL", v)
		}
		*dst = strings.TrimRight(v, "/")
		return nil
	}
}

// warnBelow adds a warning when the parsed duration is under floor.
func (c *Config) warnBelow(parse func(string) error, dst *time.Duration, floor time.Duration) func(string) error {
	return func(v string) error {
		if err := parse(v); err != nil {
			return err
		}
		if *dst < floor {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s is below %s: sessions will need refreshing very often (fine for tests)", *dst, floor))
		}
		return nil
	}
}

func optionalSMTPURL(dst *string) func(string) error {
	return func(v string) error {
		if v == "" {
			*dst = ""
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return errors.New("must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
		}
		*dst = v
		return nil
	}
}

func optionalHostPort(dst *string) func(string) error {
	return func(v string) error {
		if v == "" {
			*dst = ""
			return nil
		}
		return hostPort(dst)(v)
	}
}

func duration(dst *time.Duration, min, max time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a Go duration such as 15m or 2h", v)
		}
		if d < min || d > max {
			return fmt.Errorf("%s is outside %s..%s", d, min, max)
		}
		*dst = d
		return nil
	}
}

// durationOrOff is a duration within min..max, or 0 for "off".
func durationOrOff(dst *time.Duration, min, max time.Duration) func(string) error {
	return func(v string) error {
		if v == "0" {
			*dst = 0
			return nil
		}
		return duration(dst, min, max)(v)
	}
}

// postgresURL is empty (DuckDB) or a postgres:// URL naming a host and a
// database. Errors never repeat the value: it may hold a password.
func postgresURL(dst *string) func(string) error {
	return func(v string) error {
		if v == "" {
			*dst = ""
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return errors.New("want empty (DuckDB) or a URL such as postgres://user:password@host:5432/dbname")
		}
		*dst = v
		return nil
	}
}

// Redacted is a database URL fit for logs: its password replaced.
func Redacted(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Engine is the storage engine the configuration selects: "duckdb" or
// "postgres".
func (c Config) Engine() string {
	if c.DatabaseURL != "" {
		return "postgres"
	}
	return "duckdb"
}

// optionalDuration is a duration of at least min, or 0 for "off".
func optionalDuration(dst *time.Duration, min time.Duration) func(string) error {
	return func(v string) error {
		if v == "0" {
			*dst = 0
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			return fmt.Errorf("%q is neither 0 nor a Go duration of at least %s", v, min)
		}
		*dst = d
		return nil
	}
}

func size(dst *int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			return fmt.Errorf("%q is not a byte count of at least 1024", v)
		}
		*dst = n
		return nil
	}
}

func positiveInt(dst *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive integer", v)
		}
		*dst = n
		return nil
	}
}

func nonNegativeInt(dst *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a whole number of at least 0", v)
		}
		*dst = n
		return nil
	}
}

// optionalUSD is an amount of dollars of at least 0, or nothing.
func optionalUSD(dst **float64) func(string) error {
	return func(v string) error {
		if v == "" {
			*dst = nil
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1e9 || f != f {
			return fmt.Errorf("%q is not an amount of USD such as 20 or 7.50", v)
		}
		*dst = &f
		return nil
	}
}

func list(dst *[]string) func(string) error {
	return func(v string) error {
		*dst = splitList(v)
		return nil
	}
}

func origins(dst *[]string) func(string) error {
	return func(v string) error {
		items := splitList(v)
		for _, o := range items {
			u, err := url.Parse(o)
			if o != "*" && (err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/")) {
				return fmt.Errorf("%q is not an origin such as https://app.example.com", o)
			}
		}
		*dst = items
		return nil
	}
}

func cidrs(dst *[]string) func(string) error {
	return func(v string) error {
		items := splitList(v)
		for _, item := range items {
			if net.ParseIP(item) == nil {
				if _, _, err := net.ParseCIDR(item); err != nil {
					return fmt.Errorf("%q is neither an IP address nor a CIDR", item)
				}
			}
		}
		*dst = items
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
