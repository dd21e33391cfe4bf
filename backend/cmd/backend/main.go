// Command backend serves duckgate's HTTP API and carries the operator
// commands that work on its database (on DuckDB, while it is stopped).
//
//	backend                     serve (the default)
//	backend migrate             apply pending schema migrations and exit
//	backend user create --email E --password-stdin [--admin]
//	backend user set-role --email E --role admin|user
//	backend user reset-password --email E --password-stdin
//	backend db backup --out DIR  snapshot the database (backend stopped)
//	backend db restore --from DIR put a snapshot in place (backend stopped)
//	backend db export --out DIR  write the whole database in the engine-neutral form
//	backend db import --from DIR load such an export into an empty database
//	backend env                 list the environment variables it reads (JSON)
//	backend healthcheck         probe /readyz of a running backend (for containers)
//	backend version             print the build
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
)

// Set by the Makefile's -ldflags.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	gin.SetMode(gin.ReleaseMode) // the process's one gin global: no debug route dump; logs go through AccessLog
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
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

// usage lists the commands; `backend COMMAND --help` details each one.
const usage = `usage:
  backend [serve]
  backend migrate
  backend user create --email E --password-stdin [--admin]
  backend user set-role --email E --role admin|user
  backend user reset-password --email E --password-stdin
  backend db backup --out DIR
  backend db restore --from DIR
  backend db export --out DIR
  backend db import --from DIR
  backend env
  backend healthcheck
  backend version
Every command answers -h/--help with its own usage and flags.`

// run is the whole program: main only supplies the process's environment,
// so tests can run it in-process with their own.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "user":
		return userCommand(ctx, args, getenv, stdin, stdout)
	case "db":
		return dbCommand(ctx, args, getenv, stdout)
	case "--version", "-version":
		cmd = "version"
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	if _, known := commandHelps[cmd]; !known {
		return usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
	}
	// The commands without subcommands take no flags but -h/--help.
	if done, err := parseFlags(cmd, nil, args, stdout); done || err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, getenv, stdout)
	case "env":
		return printVars(stdout)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	default: // version
		fmt.Fprintf(stdout, "backend %s (commit %s)\n", version, commit)
		return nil
	}
}
