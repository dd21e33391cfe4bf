package duckdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// A backup is a directory holding a complete DuckDB database file and a
// manifest describing it. DuckDB lets one process open the file, so a
// backup of a serving database is taken by the backend itself: under the
// write lock, after a checkpoint, it copies every table into a fresh file
// attached for the purpose. Restoring is putting that file in place.

// BackupFile is the database file's name inside a backup directory.
const BackupFile = "app.duckdb"

// ManifestFile describes the backup next to it.
const ManifestFile = "manifest.json"

// backupTables are the tables whose rows a manifest counts.
var backupTables = []string{"users", "refresh_tokens", "audit_log", "ai_usage", "video_jobs", "login_throttle", "conversations", "messages", "images"}

// Manifest is what a backup says about itself; restore checks it.
type Manifest struct {
	SchemaVersion int            `json:"schema_version"`
	CreatedAt     time.Time      `json:"created_at"`
	File          string         `json:"file"`
	Bytes         int64          `json:"bytes"`
	SHA256        string         `json:"sha256"`
	Rows          map[string]int `json:"rows"`
}

// Backup writes a consistent snapshot of the serving database into a new
// directory under parent (named backup-YYYYMMDDTHHMMSSZ).
func (s *Store) Backup(ctx context.Context, parent string) (model.Backup, error) {
	path, m, err := s.backup(ctx, parent)
	if err != nil {
		return model.Backup{}, err
	}
	return model.Backup{Path: path, At: m.CreatedAt, Bytes: m.Bytes, SchemaVersion: m.SchemaVersion}, nil
}

// backup writes the snapshot and returns its path and manifest.
func (s *Store) backup(ctx context.Context, parent string) (string, Manifest, error) {
	at := s.now().UTC().Truncate(time.Second)
	dir := filepath.Join(parent, "backup-"+at.Format("20060102T150405Z"))
	if _, err := os.Stat(dir); err == nil {
		dir += "-" + uuid.NewString()[:8] // two backups within one second
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", Manifest{}, fmt.Errorf("store: backup directory: %w", err)
	}
	m := Manifest{CreatedAt: at, File: BackupFile, Rows: map[string]int{}}
	err := s.w.exclusive(ctx, func(conn *sql.Conn) error {
		return s.snapshot(ctx, conn, filepath.Join(dir, BackupFile), &m)
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", Manifest{}, err
	}
	if err := finishManifest(dir, &m); err != nil {
		_ = os.RemoveAll(dir)
		return "", Manifest{}, err
	}
	return dir, m, nil
}

// snapshot runs on the writer's connection with no write in progress.
func (s *Store) snapshot(ctx context.Context, conn *sql.Conn, file string, m *Manifest) error {
	if _, err := conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("store: checkpoint before backup: %w", err)
	}
	var current string
	if err := conn.QueryRowContext(ctx, "SELECT current_database()").Scan(&current); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&m.SchemaVersion); err != nil {
		return fmt.Errorf("store: backup: schema version: %w", err)
	}
	for _, table := range backupTables {
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			return fmt.Errorf("store: backup: count %s: %w", table, err)
		}
		m.Rows[table] = n
	}
	if _, err := conn.ExecContext(ctx, "ATTACH "+quote(file)+" AS duckgate_backup"); err != nil {
		return fmt.Errorf("store: backup: attach target: %w", err)
	}
	_, copyErr := conn.ExecContext(ctx, "COPY FROM DATABASE "+ident(current)+" TO duckgate_backup")
	_, detachErr := conn.ExecContext(ctx, "DETACH duckgate_backup")
	if copyErr != nil {
		return fmt.Errorf("store: backup: copy: %w", copyErr)
	}
	if detachErr != nil {
		return fmt.Errorf("store: backup: detach: %w", detachErr)
	}
	return nil
}

// BackupOffline makes the same backup of a database no process has open
// (the backend stopped), for `backend db backup`.
func BackupOffline(ctx context.Context, dbPath, parent string) (string, Manifest, error) {
	s, err := Open(ctx, dbPath, Options{})
	if err != nil {
		return "", Manifest{}, err
	}
	defer s.Close()
	return s.backup(ctx, parent)
}

func finishManifest(dir string, m *Manifest) error {
	sum, size, err := hashFile(filepath.Join(dir, m.File))
	if err != nil {
		return err
	}
	m.Bytes, m.SHA256 = size, sum
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("store: manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("store: manifest: %w", err)
	}
	return nil
}

// ReadManifest loads and checks a backup directory: the manifest must be
// there, its file intact, and its schema one this binary can run.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, fmt.Errorf("store: %s is not a backup: %w", dir, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("store: backup manifest: %w", err)
	}
	if m.File == "" || strings.ContainsAny(m.File, `/\`) {
		return m, errors.New("store: backup manifest names no database file")
	}
	sum, size, err := hashFile(filepath.Join(dir, m.File))
	if err != nil {
		return m, err
	}
	if sum != m.SHA256 || size != m.Bytes {
		return m, fmt.Errorf("store: backup file %s does not match its manifest (damaged or edited)", m.File)
	}
	if m.SchemaVersion > LatestSchema() {
		return m, fmt.Errorf("%w: the backup is at schema version %d, this binary knows up to %d", model.ErrSchemaTooNew, m.SchemaVersion, LatestSchema())
	}
	return m, nil
}

// Restore puts the backup in dir in place of the database at dbPath, which
// no process may have open. The database it replaces is kept beside it
// (NAME.before-restore-TIME), and the restored one is opened once to check
// its row counts against the manifest (and to migrate it if it is older).
func Restore(ctx context.Context, dir, dbPath string) (Manifest, string, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return m, "", err
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o750); err != nil {
		return m, "", fmt.Errorf("store: restore: %w", err)
	}
	tmp := dbPath + ".restoring"
	if err := copyFile(filepath.Join(dir, m.File), tmp); err != nil {
		return m, "", err
	}
	var kept string
	if _, err := os.Stat(dbPath); err == nil {
		kept = dbPath + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(dbPath, kept); err != nil {
			_ = os.Remove(tmp)
			return m, "", fmt.Errorf("store: restore: keep the current database: %w", err)
		}
		if _, err := os.Stat(dbPath + ".wal"); err == nil {
			if err := os.Rename(dbPath+".wal", kept+".wal"); err != nil {
				return m, kept, fmt.Errorf("store: restore: move the current WAL: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return m, kept, fmt.Errorf("store: restore: %w", err)
	}
	s, err := Open(ctx, dbPath, Options{})
	if err != nil {
		return m, kept, fmt.Errorf("store: restored database does not open: %w", err)
	}
	defer s.Close()
	for table, want := range m.Rows {
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+ident(table)).Scan(&n); err != nil {
			return m, kept, fmt.Errorf("store: restore: count %s: %w", table, err)
		}
		if n != want {
			return m, kept, fmt.Errorf("store: restore: %s has %d rows, the manifest says %d", table, n, want)
		}
	}
	return m, kept, nil
}

// PruneBackups deletes all but the newest keep backup directories in parent.
func (s *Store) PruneBackups(_ context.Context, parent string, keep int) error {
	return pruneBackups(parent, keep)
}

func pruneBackups(parent string, keep int) error {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("store: prune backups: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "backup-") {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs) // names carry the UTC time, so this is oldest first
	for i := 0; i < len(dirs)-keep; i++ {
		if err := os.RemoveAll(filepath.Join(parent, dirs[i])); err != nil {
			return fmt.Errorf("store: prune backups: %w", err)
		}
	}
	return nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("store: backup file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("store: backup file: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("store: restore: %w", err)
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return fmt.Errorf("store: restore: %w", err)
	}
	return out.Close()
}

// quote makes a SQL string literal; ident a quoted identifier.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
