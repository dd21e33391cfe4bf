package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/config"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/store/duckdb"
	"github.com/duckgate/duckgate/backend/internal/store/transfer"
	"github.com/duckgate/duckgate/shared/api"
)

// The operator commands open the database themselves. On DuckDB the backend
// must be stopped (one process holds the file); on PostgreSQL they run
// beside the serving replicas.

func openForOperator(ctx context.Context, getenv func(string) string) (config.Config, *storage, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return config.Config{}, nil, err
	}
	st, err := openDatabase(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return cfg, nil, err
	}
	return cfg, st, nil
}

// explainLock adds the likely cause to DuckDB's file-lock error.
func explainLock(err error) error {
	if strings.Contains(err.Error(), "lock") {
		return fmt.Errorf("%w\n(is the backend running? stop it first: DuckDB allows one process per database file;\n while it runs, use POST /admin/backup instead)", err)
	}
	return err
}

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	_, st, err := openForOperator(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s database %s is at schema version %d\n", st.engine, st.where, v)
	return nil
}

func userCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"backend user: want create, set-role or reset-password\n" + usage}
	}
	switch {
	case args[0] == "create":
		return userCreate(ctx, args[1:], getenv, stdin, stdout)
	case args[0] == "set-role":
		return userSetRole(ctx, args[1:], getenv, stdout)
	case args[0] == "reset-password":
		return userResetPassword(ctx, args[1:], getenv, stdin, stdout)
	case isHelp(args[0]):
		printUsage(stdout, "user", nil)
		return nil
	}
	return usageError{fmt.Sprintf("backend user: unknown command %q\n%s", args[0], usage)}
}

func userCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	email := fs.String("email", "", "email of the new user")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	isAdmin := fs.Bool("admin", false, "make the user an admin")
	if done, err := parseFlags("user create", fs, args, stdout); done || err != nil {
		return err
	}
	if *email == "" || !*fromStdin {
		return usageError{"backend user create: --email and --password-stdin are required (passwords never go on the command line)"}
	}
	password, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	password = strings.TrimRight(password, "\r\n")
	normalized, fe := auth.NormalizeEmail(*email)
	if fe != nil {
		return usageError{"--email " + fe.Message}
	}
	if fe := auth.CheckPassword("password", password); fe != nil {
		return usageError{"password " + fe.Message}
	}
	_, st, err := openForOperator(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	role := api.RoleUser
	if *isAdmin {
		role = api.RoleAdmin
	}
	svc := auth.NewService(st, auth.NewHasher(auth.DefaultPasswordParams, runtime.NumCPU()), nil, auth.Config{})
	u, err := svc.CreateAccount(ctx, normalized, password, role,
		&model.Audit{ActorID: "operator", Action: api.AuditUserCreated, Detail: "created from the command line as " + role})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s (%s)\n", role, u.Email, u.ID)
	return nil
}

func userSetRole(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user set-role", flag.ContinueOnError)
	email := fs.String("email", "", "email of the user")
	role := fs.String("role", "", "admin or user")
	if done, err := parseFlags("user set-role", fs, args, stdout); done || err != nil {
		return err
	}
	if *email == "" || (*role != api.RoleAdmin && *role != api.RoleUser) {
		return usageError{"backend user set-role: --email and --role admin|user are required"}
	}
	_, st, err := openForOperator(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(*email)))
	if errors.Is(err, model.ErrNotFound) {
		return fmt.Errorf("no user with email %s", *email)
	} else if err != nil {
		return err
	}
	u, err = st.SetRole(ctx, u.ID, *role, &model.Audit{ActorID: "operator", Action: api.AuditRoleChange,
		TargetID: u.ID.String(), Detail: "role set to " + *role + " from the command line"})
	if errors.Is(err, model.ErrLastAdmin) {
		return errors.New("refused: this would leave the system without an admin")
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is now %s\n", u.Email, u.Role)
	return nil
}

// userResetPassword sets a user's password from standard input and ends
// every session of theirs: for operators without mail.
func userResetPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("user reset-password", flag.ContinueOnError)
	email := fs.String("email", "", "email of the user")
	fromStdin := fs.Bool("password-stdin", false, "read the new password from standard input")
	if done, err := parseFlags("user reset-password", fs, args, stdout); done || err != nil {
		return err
	}
	if *email == "" || !*fromStdin {
		return usageError{"backend user reset-password: --email and --password-stdin are required (passwords never go on the command line)"}
	}
	password, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	password = strings.TrimRight(password, "\r\n")
	if fe := auth.CheckPassword("password", password); fe != nil {
		return usageError{"password " + fe.Message}
	}
	cfg, st, err := openForOperator(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(*email)))
	if errors.Is(err, model.ErrNotFound) {
		return fmt.Errorf("no user with email %s", *email)
	} else if err != nil {
		return err
	}
	hasher := auth.NewHasher(auth.DefaultPasswordParams, runtime.NumCPU())
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	if _, err := st.UpdateUser(ctx, u.ID, model.UserChange{PasswordHash: &hash, EndOtherSessions: true},
		&model.Audit{ActorID: "operator", Action: api.AuditPasswordReset, TargetID: u.ID.String(),
			Detail: "reset from the command line; every session ended"}); err != nil {
		return err
	}
	first := &initialAdmin{path: initialAdminPath(cfg.JWTKeyFile), hasher: hasher, store: st, log: slog.New(slog.DiscardHandler)}
	first.removeIfChanged(ctx)
	fmt.Fprintf(stdout, "password of %s reset; every session of theirs ended\n", u.Email)
	return nil
}

// healthcheck probes the running backend's /readyz, so container images need
// no curl.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	host := cfg.Addr
	if strings.HasPrefix(host, ":") || strings.HasPrefix(host, "0.0.0.0:") {
		host = "127.0.0.1:" + host[strings.LastIndex(host, ":")+1:]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/readyz", nil)
	if err != nil {
		return err
	}
	client := newProbeClient()
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: /readyz answered %s", resp.Status)
	}
	return nil
}

// probeTimeout bounds the readiness probe, dial to answer. It stays below
// the images' HEALTHCHECK --timeout (5s), so a slow probe fails with its
// own reason instead of being killed.
const probeTimeout = 3 * time.Second

// newProbeClient is the healthcheck command's HTTP client: one request to
// this host's own listener, bounded by probeTimeout, never through a proxy
// (HTTP_PROXY may be set for the service's outgoing calls) and without
// keep-alive.
func newProbeClient() *http.Client {
	return &http.Client{
		Timeout: probeTimeout,
		Transport: &http.Transport{
			Proxy:             nil,
			DialContext:       (&net.Dialer{Timeout: probeTimeout}).DialContext,
			DisableKeepAlives: true,
		},
	}
}

func dbCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		printUsage(stdout, "db", nil)
		return nil
	}
	if len(args) == 0 || !slices.Contains([]string{"backup", "restore", "export", "import"}, args[0]) {
		return usageError{"backend db: want backup, restore, export or import\n" + usage}
	}
	fs := flag.NewFlagSet("db "+args[0], flag.ContinueOnError)
	var out, from string
	switch args[0] {
	case "backup":
		fs.StringVar(&out, "out", "", "directory under which the backup is written (default: BACKUP_DIR)")
	case "restore":
		fs.StringVar(&from, "from", "", "backup directory to restore (one written by db backup or POST /admin/backup)")
	case "export":
		fs.StringVar(&out, "out", "", "the export's directory, which must not exist yet")
	case "import":
		fs.StringVar(&from, "from", "", "directory written by backend db export")
	}
	if done, err := parseFlags("db "+args[0], fs, args[1:], stdout); done || err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	switch args[0] {
	case "export":
		if out == "" {
			return usageError{"backend db export: --out DIR is required (a new directory)"}
		}
		return dbExport(ctx, getenv, out, stdout)
	case "import":
		if from == "" {
			return usageError{"backend db import: --from DIR is required (a directory written by backend db export)"}
		}
		return dbImport(ctx, getenv, from, stdout)
	}
	if cfg.DatabaseURL != "" {
		return fmt.Errorf("backend db %s is for DuckDB; this backend is configured for PostgreSQL (DATABASE_URL):\n"+
			"back it up with the database's own tools, e.g. pg_dump --format=custom --file=duckgate.dump \"$DATABASE_URL\"\n"+
			"and restore with pg_restore --clean --dbname=\"$DATABASE_URL\" duckgate.dump (see the README)", args[0])
	}
	if args[0] == "backup" {
		if out == "" {
			out = cfg.BackupDir
		}
		path, m, err := duckdb.BackupOffline(ctx, cfg.DuckDBPath, out)
		if err != nil {
			return explainLock(err)
		}
		fmt.Fprintf(stdout, "backup written to %s (%d bytes, schema %d, %d users)\n", path, m.Bytes, m.SchemaVersion, m.Rows["users"])
		return nil
	}
	if from == "" {
		return usageError{"backend db restore: --from DIR is required"}
	}
	m, kept, err := duckdb.Restore(ctx, from, cfg.DuckDBPath)
	if err != nil {
		return explainLock(err)
	}
	fmt.Fprintf(stdout, "restored %s from %s (schema %d, taken %s, %d users)\n", cfg.DuckDBPath, from, m.SchemaVersion,
		m.CreatedAt.Format(time.RFC3339), m.Rows["users"])
	if kept != "" {
		fmt.Fprintf(stdout, "the database it replaced is kept as %s\n", kept)
	}
	return nil
}

// dbExport writes the configured database in the engine-neutral form of
// package transfer: the way from DuckDB to PostgreSQL (and back). DuckDB
// needs the backend stopped; PostgreSQL is read in one snapshot while the
// replicas serve.
func dbExport(ctx context.Context, getenv func(string) string, dir string, stdout io.Writer) error {
	_, st, err := openForOperator(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := transfer.Create(dir)
	if err != nil {
		return err
	}
	if err := st.Export(ctx, w); err != nil {
		w.Abort()
		return err
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		w.Abort()
		return err
	}
	m, err := w.Finish(st.engine, v, time.Now())
	if err != nil {
		w.Abort()
		return err
	}
	fmt.Fprintf(stdout, "exported the %s database %s (schema %d) to %s: %s\n", st.engine, st.where, v, dir, rowCounts(m))
	return nil
}

// dbImport loads an export into the configured database, which must be
// empty: create the database, import, then start the backends.
func dbImport(ctx context.Context, getenv func(string) string, dir string, stdout io.Writer) error {
	r, err := transfer.Open(dir)
	if err != nil {
		return err
	}
	_, st, err := openForOperator(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Import(ctx, r); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s (from %s, schema %d, exported %s) into the %s database %s: %s\n", dir, r.Manifest.Engine,
		r.Manifest.SchemaVersion, r.Manifest.CreatedAt.Format(time.RFC3339), st.engine, st.where, rowCounts(r.Manifest))
	return nil
}

func rowCounts(m transfer.Manifest) string {
	parts := make([]string, 0, len(m.Tables))
	for _, f := range m.Tables {
		parts = append(parts, fmt.Sprintf("%d %s", f.Rows, strings.ReplaceAll(f.Table, "_", " ")))
	}
	return strings.Join(parts, ", ")
}

// printVars lists the configuration the backend reads, for operators and
// for the deployment checks (the config table is the source of truth).
func printVars(stdout io.Writer) error {
	type envVar struct {
		Name    string `json:"name"`
		Default string `json:"default"`
		Help    string `json:"help"`
		Secret  bool   `json:"secret"`
	}
	var out []envVar
	for _, v := range config.Vars() {
		out = append(out, envVar{v.Name, v.Default, v.Help, v.Secret})
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
