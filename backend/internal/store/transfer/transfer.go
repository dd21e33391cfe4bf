// Package transfer is the engine-neutral form of a whole database, for
// moving one from an engine to another (DuckDB → PostgreSQL when a
// deployment outgrows one machine, and back): a directory with one
// JSON-lines file per table and a manifest naming the schema version, the
// row counts and each file's SHA-256.
//
//	manifest.json
//	users.jsonl  refresh_tokens.jsonl  audit_log.jsonl
//	ai_usage.jsonl  video_jobs.jsonl  login_throttle.jsonl
//	conversations.jsonl  messages.jsonl  images.jsonl
//	api_keys.jsonl  user_budgets.jsonl  account_tokens.jsonl
//
// The rows are the tables both engines share (their migrations carry the
// same numbers for the same tables); what an engine derives from them (the
// PostgreSQL sessions table, DuckDB's caches) is rebuilt by the importer.
// PostgreSQL's budget_reservations are not moved: they are the estimates
// of calls running at the export, whose usage records (which settle them)
// land in the old database, and they expire within minutes anyway.
// Each engine reads and writes this form with the typed rows below; the
// package holds no SQL.
package transfer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
)

// Format names this layout in the manifest; Version is its revision:
//
//	1  users, refresh_tokens, audit_log, ai_usage, video_jobs,
//	   login_throttle (schema 3)
//	2  and conversations, messages, images (with their bytes), api_keys,
//	   user_budgets, account_tokens; audit entries keep their emails and
//	   refresh tokens whether their session is short (schema 6)
const (
	Format       = "duckgate-export"
	Version      = 2
	ManifestFile = "manifest.json"
)

// Table names, in the order they are written and read.
const (
	Users         = "users"
	RefreshTokens = "refresh_tokens"
	AuditLog      = "audit_log"
	AIUsage       = "ai_usage"
	VideoJobs     = "video_jobs"
	LoginThrottle = "login_throttle"
	Conversations = "conversations"
	Messages      = "messages"
	Images        = "images"
	APIKeys       = "api_keys"
	UserBudgets   = "user_budgets"
	AccountTokens = "account_tokens"
)

// Tables lists every table of an export.
var Tables = []string{Users, RefreshTokens, AuditLog, AIUsage, VideoJobs, LoginThrottle,
	Conversations, Messages, Images, APIKeys, UserBudgets, AccountTokens}

// User is a row of users.
type User struct {
	ID           uuid.UUID `json:"id"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"password_hash"`
	Role         string    `json:"role"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// RefreshToken is a row of refresh_tokens: every token ever issued (the
// rotated ones too, so that their reuse is still recognised after a move).
type RefreshToken struct {
	ID              uuid.UUID  `json:"id"`
	TokenHash       string     `json:"token_hash"`
	FamilyID        uuid.UUID  `json:"family_id"`
	UserID          uuid.UUID  `json:"user_id"`
	ParentID        *uuid.UUID `json:"parent_id,omitempty"`
	Status          string     `json:"status"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	FamilyCreatedAt time.Time  `json:"family_created_at"`
	UserAgent       string     `json:"user_agent"`
	IP              string     `json:"ip"`
	RevokedAt       *time.Time `json:"revoked_at,omitempty"`
	ShortSession    bool       `json:"short_session"`
}

// Audit is a row of audit_log.
type Audit struct {
	ID        uuid.UUID `json:"id"`
	At        time.Time `json:"occurred_at"`
	ActorID   *string   `json:"actor_id,omitempty"`
	Action    string    `json:"action"`
	TargetID  *string   `json:"target_id,omitempty"`
	Detail    *string   `json:"detail,omitempty"`
	RequestID *string   `json:"request_id,omitempty"`
	// The emails of actor and target as they were (a deleted user's
	// history still names them).
	ActorEmail  *string `json:"actor_email,omitempty"`
	TargetEmail *string `json:"target_email,omitempty"`
}

// Usage is a row of ai_usage.
type Usage struct {
	ID               uuid.UUID `json:"id"`
	At               time.Time `json:"occurred_at"`
	UserID           uuid.UUID `json:"user_id"`
	Kind             string    `json:"kind"`
	Model            string    `json:"model"`
	Status           string    `json:"status"`
	LatencyMS        float64   `json:"latency_ms"`
	PromptTokens     int32     `json:"prompt_tokens"`
	CompletionTokens int32     `json:"completion_tokens"`
	Cost             *float64  `json:"cost,omitempty"`
	GenerationID     *string   `json:"generation_id,omitempty"`
	ErrorKind        *string   `json:"error_kind,omitempty"`
}

// VideoJob is a row of video_jobs.
type VideoJob struct {
	ID           uuid.UUID  `json:"id"`
	UserID       uuid.UUID  `json:"user_id"`
	UpstreamID   string     `json:"upstream_id"`
	PollingURL   string     `json:"polling_url"`
	Status       string     `json:"status"`
	Model        string     `json:"model"`
	Prompt       string     `json:"prompt"`
	Params       string     `json:"params"`
	ErrorMessage *string    `json:"error_message,omitempty"`
	Cost         *float64   `json:"cost,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	PolledAt     *time.Time `json:"polled_at,omitempty"`
}

// Throttle is a row of login_throttle.
type Throttle struct {
	Key         string     `json:"key"`
	Failures    int32      `json:"failures"`
	WindowStart time.Time  `json:"window_start"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// Conversation is a row of conversations.
type Conversation struct {
	ID           uuid.UUID `json:"id"`
	UserID       uuid.UUID `json:"user_id"`
	Title        string    `json:"title"`
	Pinned       bool      `json:"pinned"`
	Model        string    `json:"model"`
	SystemPrompt string    `json:"system_prompt"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Message is a row of messages.
type Message struct {
	ID             uuid.UUID `json:"id"`
	ConversationID uuid.UUID `json:"conversation_id"`
	Seq            int32     `json:"seq"`
	Role           string    `json:"role"`
	Content        string    `json:"content"`
	Model          string    `json:"model"`
	CutShort       bool      `json:"cut_short"`
	CreatedAt      time.Time `json:"created_at"`
}

// Image is a row of images, its bytes included (base64 in the file).
type Image struct {
	ID        uuid.UUID `json:"id"`
	UserID    uuid.UUID `json:"user_id"`
	Prompt    string    `json:"prompt"`
	Model     string    `json:"model"`
	MediaType string    `json:"media_type"`
	Bytes     int64     `json:"bytes"`
	SHA256    string    `json:"sha256"`
	Content   []byte    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
}

// APIKey is a row of api_keys: the hash of the secret, never the secret,
// so keys go on working after a move.
type APIKey struct {
	ID                uuid.UUID  `json:"id"`
	UserID            uuid.UUID  `json:"user_id"`
	Name              string     `json:"name"`
	Prefix            string     `json:"prefix"`
	SecretHash        string     `json:"secret_hash"`
	Scopes            []string   `json:"scopes"`
	RequestsPerMinute int32      `json:"requests_per_minute"`
	CreatedAt         time.Time  `json:"created_at"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
	RevokedAt         *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt        *time.Time `json:"last_used_at,omitempty"`
	LastUsedIP        *string    `json:"last_used_ip,omitempty"`
}

// UserBudget is a row of user_budgets.
type UserBudget struct {
	UserID     uuid.UUID `json:"user_id"`
	MonthlyUSD float64   `json:"monthly_usd"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// AccountToken is a row of account_tokens (a reset or invitation link,
// as the hash of what was handed out).
type AccountToken struct {
	ID        uuid.UUID  `json:"id"`
	UserID    uuid.UUID  `json:"user_id"`
	Purpose   string     `json:"purpose"`
	TokenHash string     `json:"token_hash"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
}

// Manifest describes an export; Open checks the files against it.
type Manifest struct {
	Format        string    `json:"format"`
	Version       int       `json:"version"`
	SchemaVersion int       `json:"schema_version"`
	Engine        string    `json:"engine"` // the engine it was exported from
	CreatedAt     time.Time `json:"created_at"`
	Tables        []File    `json:"tables"`
}

// File is one table's file in the manifest.
type File struct {
	Table  string `json:"table"`
	File   string `json:"file"`
	Rows   int    `json:"rows"`
	SHA256 string `json:"sha256"`
}

// Rows is the manifest's row count of table.
func (m Manifest) Rows(table string) int {
	for _, f := range m.Tables {
		if f.Table == table {
			return f.Rows
		}
	}
	return 0
}

// Writer writes an export into a new directory.
type Writer struct {
	dir    string
	files  map[string]*tableFile
	closed bool
}

type tableFile struct {
	f    *os.File
	buf  *bufio.Writer
	hash hash.Hash
	enc  *json.Encoder
	rows int
}

// Create starts an export in dir, which must not exist or be empty.
func Create(dir string) (*Writer, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("transfer: %s is not empty; export into a new directory", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	w := &Writer{dir: dir, files: map[string]*tableFile{}}
	for _, t := range Tables {
		f, err := os.OpenFile(filepath.Join(dir, t+".jsonl"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			w.abort()
			return nil, fmt.Errorf("transfer: %w", err)
		}
		h := sha256.New()
		buf := bufio.NewWriterSize(io.MultiWriter(f, h), 256<<10)
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		w.files[t] = &tableFile{f: f, buf: buf, hash: h, enc: enc}
	}
	return w, nil
}

// Write appends one row to table (one of Tables; row its type above).
func (w *Writer) Write(table string, row any) error {
	tf, ok := w.files[table]
	if !ok {
		return fmt.Errorf("transfer: unknown table %q", table)
	}
	if err := tf.enc.Encode(row); err != nil {
		return fmt.Errorf("transfer: write %s: %w", table, err)
	}
	tf.rows++
	return nil
}

// Finish flushes every file to disk and writes the manifest last, so a
// directory with a manifest is a complete export.
func (w *Writer) Finish(engine string, schemaVersion int, at time.Time) (Manifest, error) {
	m := Manifest{Format: Format, Version: Version, SchemaVersion: schemaVersion, Engine: engine, CreatedAt: at.UTC()}
	for _, t := range Tables {
		tf := w.files[t]
		err := tf.buf.Flush()
		if err == nil {
			err = tf.f.Sync()
		}
		if cerr := tf.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return m, fmt.Errorf("transfer: write %s: %w", t, err)
		}
		m.Tables = append(m.Tables, File{Table: t, File: t + ".jsonl", Rows: tf.rows, SHA256: hex.EncodeToString(tf.hash.Sum(nil))})
	}
	w.closed = true
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("transfer: manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, ManifestFile), append(b, '\n'), 0o600); err != nil {
		return m, fmt.Errorf("transfer: manifest: %w", err)
	}
	return m, nil
}

// Abort removes what was written (after a failed export).
func (w *Writer) Abort() { w.abort() }

func (w *Writer) abort() {
	if !w.closed {
		for _, tf := range w.files {
			_ = tf.f.Close()
		}
	}
	for _, t := range Tables {
		_ = os.Remove(filepath.Join(w.dir, t+".jsonl"))
	}
	_ = os.Remove(filepath.Join(w.dir, ManifestFile))
	_ = os.Remove(w.dir) // only if it is empty now
}

// Reader reads a checked export.
type Reader struct {
	Manifest Manifest
	dir      string
}

// Open reads dir's manifest and checks every file against it (size of the
// export is bounded by the disk, so the check reads each file once).
func Open(dir string) (*Reader, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("transfer: %s is not an export (no %s): %w", dir, ManifestFile, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("transfer: manifest: %w", err)
	}
	switch {
	case m.Format != Format:
		return nil, fmt.Errorf("transfer: %s is a %q, not a %q", dir, m.Format, Format)
	case m.Version < Version:
		// Its rows are those of an older schema, which this binary does
		// not write; the backend that made it can, and this one then
		// upgrades the database it filled.
		return nil, fmt.Errorf("transfer: %s is a %s of version %d (schema %d), made by an older backend; this one reads version %d: "+
			"import it with the backend that made it, then start this one on that database (it migrates the schema), and export again if you still need to move it",
			dir, Format, m.Version, m.SchemaVersion, Version)
	case m.Version > Version:
		return nil, fmt.Errorf("transfer: %s is a %s of version %d, made by a newer backend; this one reads version %d: import it with a backend of that version",
			dir, Format, m.Version, Version)
	}
	r := &Reader{Manifest: m, dir: dir}
	for _, t := range Tables {
		f, ok := r.file(t)
		if !ok {
			return nil, fmt.Errorf("transfer: the manifest lists no %s", t)
		}
		sum, lines, err := hashLines(filepath.Join(dir, f.File))
		if err != nil {
			return nil, err
		}
		if sum != f.SHA256 || lines != f.Rows {
			return nil, fmt.Errorf("transfer: %s does not match the manifest (damaged or edited)", f.File)
		}
	}
	return r, nil
}

func (r *Reader) file(table string) (File, bool) {
	for _, f := range r.Manifest.Tables {
		if f.Table == table && f.File == filepath.Base(f.File) {
			return f, true
		}
	}
	return File{}, false
}

func hashLines(path string) (string, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("transfer: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	lines := 0
	buf := make([]byte, 256<<10)
	for {
		n, err := f.Read(buf)
		for _, c := range buf[:n] {
			if c == '\n' {
				lines++
			}
		}
		h.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, fmt.Errorf("transfer: read %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), lines, nil
}

// Each calls fn for every row of table, decoded into T.
func Each[T any](r *Reader, table string, fn func(T) error) error {
	f, ok := r.file(table)
	if !ok {
		return fmt.Errorf("transfer: the manifest lists no %s", table)
	}
	file, err := os.Open(filepath.Join(r.dir, f.File))
	if err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	defer file.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(file, 256<<10))
	dec.DisallowUnknownFields()
	for n := 1; ; n++ {
		var row T
		if err := dec.Decode(&row); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("transfer: %s row %d: %w", f.File, n, err)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// Chunk gathers rows for an engine's bulk insert: it says when to flush,
// after importChunk rows or once they hold about chunkBytes of text and
// bytes (a chunk of images must not take gigabytes of memory).
type Chunk[V any] struct {
	Rows  [][]V
	bytes int
}

// Flush bounds of Chunk.
const (
	chunkRows  = 10_000
	chunkBytes = 32 << 20
)

// Add appends a row and reports whether the chunk should be flushed.
func (c *Chunk[V]) Add(row []V) bool {
	c.Rows = append(c.Rows, row)
	for _, v := range row {
		switch x := any(v).(type) {
		case string:
			c.bytes += len(x)
		case *string:
			if x != nil {
				c.bytes += len(*x)
			}
		case []byte:
			c.bytes += len(x)
		}
	}
	return len(c.Rows) >= chunkRows || c.bytes >= chunkBytes
}

// Reset empties the chunk after a flush.
func (c *Chunk[V]) Reset() {
	clear(c.Rows)
	c.Rows, c.bytes = c.Rows[:0], 0
}

// Str is an optional column's text, "" for NULL.
func Str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Ptr is nil for "" and &s otherwise.
func Ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
