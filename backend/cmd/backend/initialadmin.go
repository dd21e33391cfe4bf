package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/model"
)

// The generated first admin's password is logged once (the contract's
// "created initial admin" record) and also written to initial-admin.txt in
// the data directory (the signing key's), readable by the service user
// only, until that admin changes the password.

const initialAdminFile = "initial-admin.txt"

// initialAdmin is the file holding the generated password.
type initialAdmin struct {
	path   string
	hasher *auth.Hasher
	store  interface {
		UserByEmail(ctx context.Context, email string) (model.User, error)
	}
	log *slog.Logger
}

// write keeps the generated credentials in the file, mode 0600, and, when
// standard error is a terminal, says where in plain words.
func (f *initialAdmin) write(email, password string, stderr io.Writer) error {
	body := fmt.Sprintf("The first admin of this duckgate, created on its first start.\n"+
		"Sign in with it, then change the password: this file is deleted then.\n\nemail:    %s\npassword: %s\n", email, password)
	if err := os.WriteFile(f.path, []byte(body), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if file, ok := stderr.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		fmt.Fprintf(stderr, "\n  duckgate created its first admin: %s\n  The password is in %s (and in the log line \"created initial admin\").\n"+
			"  Sign in and change it; the file goes away then.\n\n", email, f.path)
	}
	return nil
}

// removeIfChanged deletes the file once its admin's password is no longer
// the one it holds (changed, reset, or the admin deleted).
func (f *initialAdmin) removeIfChanged(ctx context.Context) {
	body, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return
	} else if err != nil {
		f.log.Warn("reading the initial admin file", "path", f.path, "err", err)
		return
	}
	email, password := field(string(body), "email:"), field(string(body), "password:")
	u, err := f.store.UserByEmail(ctx, email)
	if err == nil && u.PasswordHash != "" {
		if ok, _, verr := f.hasher.Verify(ctx, password, u.PasswordHash); verr == nil && ok {
			return // still the generated password
		}
	} else if err != nil && !errors.Is(err, model.ErrNotFound) {
		return // cannot tell now
	}
	if err := os.Remove(f.path); err == nil {
		f.log.Info("removed the initial admin file: its password is no longer in use", "path", f.path)
	}
}

func field(body, name string) string {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// initialAdminPath is initial-admin.txt beside the signing key (the data
// directory, whichever database engine serves).
func initialAdminPath(jwtKeyFile string) string {
	return filepath.Join(filepath.Dir(jwtKeyFile), initialAdminFile)
}
