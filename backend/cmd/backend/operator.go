package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/config"
	"github.com/duckgate/duckgate/backend/internal/store"
	"github.com/duckgate/duckgate/shared/api"
)

// The operator commands open the database themselves, so the backend must
// be stopped: DuckDB lets one process hold the file.

func openForOperator(ctx context.Context, getenv func(string) string) (config.Config, *store.Store, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return config.Config{}, nil, err
	}
	st, err := store.Open(ctx, cfg.DuckDBPath, store.Options{})
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return cfg, nil, fmt.Errorf("%w\n(is the backend running? stop it first: DuckDB allows one process per database file)", err)
		}
		return cfg, nil, err
	}
	return cfg, st, nil
}

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, st, err := openForOperator(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is at schema version %d\n", cfg.DuckDBPath, v)
	return nil
}

func userCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"backend user: want create or set-role\n" + usage}
	}
	switch args[0] {
	case "create":
		return userCreate(ctx, args[1:], getenv, stdin, stdout)
	case "set-role":
		return userSetRole(ctx, args[1:], getenv, stdout)
	}
	return usageError{fmt.Sprintf("backend user: unknown command %q\n%s", args[0], usage)}
}

func userCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "email of the new user")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	isAdmin := fs.Bool("admin", false, "make the user an admin")
	if err := fs.Parse(args); err != nil {
		return usageError{"backend user create: " + err.Error()}
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
		&store.Audit{ActorID: "operator", Action: api.AuditUserCreated, Detail: "created from the command line as " + role})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s (%s)\n", role, u.Email, u.ID)
	return nil
}

func userSetRole(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user set-role", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "email of the user")
	role := fs.String("role", "", "admin or user")
	if err := fs.Parse(args); err != nil {
		return usageError{"backend user set-role: " + err.Error()}
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
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user with email %s", *email)
	} else if err != nil {
		return err
	}
	u, err = st.SetRole(ctx, u.ID, *role, &store.Audit{ActorID: "operator", Action: api.AuditRoleChange,
		TargetID: u.ID.String(), Detail: "role set to " + *role + " from the command line"})
	if errors.Is(err, store.ErrLastAdmin) {
		return errors.New("refused: this would leave the system without an admin")
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is now %s\n", u.Email, u.Role)
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
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: /readyz answered %s", resp.Status)
	}
	return nil
}
