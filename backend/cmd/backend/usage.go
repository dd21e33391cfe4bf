package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Every command answers -h, -help or --help with its usage (synopsis, what
// it does, its flags) on stdout and success, and does nothing else: no
// database is opened, nothing is probed.

// commandHelp is what a command's usage says.
type commandHelp struct{ synopsis, about string }

var commandHelps = map[string]commandHelp{
	"serve":   {"backend [serve]", "Serve the HTTP API. The environment configures it (`backend env` lists every variable)."},
	"migrate": {"backend migrate", "Apply pending schema migrations and exit. Stop the backend first: DuckDB lets one process hold the file."},
	"user": {"backend user create|set-role|reset-password [flags]", "Manage users while the backend is stopped:\n" +
		"  create           create a user\n  set-role         make a user an admin or an ordinary user\n" +
		"  reset-password   set a user's password and end their sessions (for servers without mail)"},
	"user create":         {"backend user create --email E --password-stdin [--admin]", "Create a user. The password is read from standard input, never from the command line."},
	"user reset-password": {"backend user reset-password --email E --password-stdin", "Set a user's password, read from standard input, and end every session of theirs."},
	"user set-role":       {"backend user set-role --email E --role admin|user", "Change a user's role; the last admin cannot be demoted."},
	"db": {"backend db backup|restore|export|import [flags]", "Snapshot, restore or move the database while the backend is stopped:\n" +
		"  backup     write a DuckDB snapshot (a running backend takes them with POST /admin/backup)\n" +
		"  restore    put a DuckDB snapshot in place\n" +
		"  export     write the whole database, either engine, in the engine-neutral form\n" +
		"  import     load such an export into an empty database (DuckDB to PostgreSQL, or back)"},
	"db backup":   {"backend db backup [--out DIR]", "Write a snapshot of the database (app.duckdb and manifest.json) into a new directory under DIR."},
	"db restore":  {"backend db restore --from DIR", "Put the snapshot in DIR in place of the database; the database it replaces is kept next to it."},
	"db export":   {"backend db export --out DIR", "Write every table of the configured database (DUCKDB_PATH, or DATABASE_URL) into the new directory DIR."},
	"db import":   {"backend db import --from DIR", "Load an export into the configured database, which must be empty (migrated, with no users)."},
	"env":         {"backend env", "Print the environment variables the backend reads, with their defaults and meaning, as JSON."},
	"healthcheck": {"backend healthcheck", "Probe /readyz of the backend listening on BACKEND_ADDR; exit non-zero unless it is ready."},
	"version":     {"backend version", "Print the build (version and commit)."},
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// parseFlags parses the args of the command name into fs (nil: a command
// without flags). On -h/--help it prints the usage to stdout and returns
// done; a wrong flag or a stray argument is a usage error.
func parseFlags(name string, fs *flag.FlagSet, args []string, stdout io.Writer) (done bool, err error) {
	if fs == nil {
		fs = flag.NewFlagSet(name, flag.ContinueOnError)
	}
	fs.SetOutput(io.Discard) // errors are returned, help goes to stdout
	fs.Usage = func() {}
	err = fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, name, fs)
		return true, nil
	case err != nil:
		return false, usageError{fmt.Sprintf("backend %s: %v\nusage: %s", name, err, commandHelps[name].synopsis)}
	case fs.NArg() > 0:
		return false, usageError{fmt.Sprintf("backend %s: unexpected argument %q\nusage: %s", name, fs.Arg(0), commandHelps[name].synopsis)}
	}
	return false, nil
}

// printUsage writes the usage of the command name, with fs's flags.
func printUsage(w io.Writer, name string, fs *flag.FlagSet) {
	h := commandHelps[name]
	fmt.Fprintf(w, "usage: %s\n\n%s\n", h.synopsis, h.about)
	if fs == nil {
		return
	}
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", flags.String())
	}
}
