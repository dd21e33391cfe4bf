package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/store/transfer"
)

// Export writes every table to w from one read-only, repeatable-read
// transaction: a consistent state of the database, taken while replicas
// keep serving.
func (s *Store) Export(ctx context.Context, w *transfer.Writer) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	for _, e := range []struct {
		table, query string
		row          func(pgx.Rows) (any, error)
	}{
		{transfer.Users, "SELECT " + userColumns + " FROM users ORDER BY created_at, id", func(r pgx.Rows) (any, error) {
			var u transfer.User
			err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.CreatedAt, &u.UpdatedAt)
			u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
			return u, err
		}},
		{transfer.RefreshTokens, `SELECT id, token_hash, family_id, user_id, parent_id, status, created_at, expires_at,
			family_created_at, user_agent, ip, revoked_at, short_session FROM refresh_tokens ORDER BY created_at, id`, func(r pgx.Rows) (any, error) {
			var t transfer.RefreshToken
			err := r.Scan(&t.ID, &t.TokenHash, &t.FamilyID, &t.UserID, &t.ParentID, &t.Status, &t.CreatedAt, &t.ExpiresAt,
				&t.FamilyCreatedAt, &t.UserAgent, &t.IP, &t.RevokedAt, &t.ShortSession)
			t.CreatedAt, t.ExpiresAt, t.FamilyCreatedAt, t.RevokedAt = utc(t.CreatedAt), utc(t.ExpiresAt), utc(t.FamilyCreatedAt), utcPtr(t.RevokedAt)
			return t, err
		}},
		{transfer.AuditLog, `SELECT id, occurred_at, actor_id, action, target_id, detail, request_id, actor_email, target_email
			FROM audit_log ORDER BY occurred_at, id`,
			func(r pgx.Rows) (any, error) {
				var a transfer.Audit
				err := r.Scan(&a.ID, &a.At, &a.ActorID, &a.Action, &a.TargetID, &a.Detail, &a.RequestID, &a.ActorEmail, &a.TargetEmail)
				a.At = utc(a.At)
				return a, err
			}},
		{transfer.AIUsage, `SELECT id, occurred_at, user_id, kind, model, status, latency_ms, prompt_tokens, completion_tokens, cost,
			generation_id, error_kind FROM ai_usage ORDER BY occurred_at, id`, func(r pgx.Rows) (any, error) {
			var u transfer.Usage
			err := r.Scan(&u.ID, &u.At, &u.UserID, &u.Kind, &u.Model, &u.Status, &u.LatencyMS, &u.PromptTokens, &u.CompletionTokens,
				&u.Cost, &u.GenerationID, &u.ErrorKind)
			u.At = utc(u.At)
			return u, err
		}},
		{transfer.VideoJobs, "SELECT " + videoColumns + " FROM video_jobs ORDER BY created_at, id", func(r pgx.Rows) (any, error) {
			var v transfer.VideoJob
			err := r.Scan(&v.ID, &v.UserID, &v.UpstreamID, &v.PollingURL, &v.Status, &v.Model, &v.Prompt, &v.Params,
				&v.ErrorMessage, &v.Cost, &v.CreatedAt, &v.UpdatedAt, &v.PolledAt)
			v.CreatedAt, v.UpdatedAt, v.PolledAt = utc(v.CreatedAt), utc(v.UpdatedAt), utcPtr(v.PolledAt)
			return v, err
		}},
		{transfer.LoginThrottle, `SELECT key, failures, window_start, locked_until FROM login_throttle ORDER BY key COLLATE "C"`,
			func(r pgx.Rows) (any, error) {
				var t transfer.Throttle
				err := r.Scan(&t.Key, &t.Failures, &t.WindowStart, &t.LockedUntil)
				t.WindowStart, t.LockedUntil = utc(t.WindowStart), utcPtr(t.LockedUntil)
				return t, err
			}},
		{transfer.Conversations, "SELECT " + conversationColumns + " FROM conversations c ORDER BY c.created_at, c.id", func(r pgx.Rows) (any, error) {
			var c transfer.Conversation
			err := r.Scan(&c.ID, &c.UserID, &c.Title, &c.Pinned, &c.Model, &c.SystemPrompt, &c.CreatedAt, &c.UpdatedAt)
			c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
			return c, err
		}},
		{transfer.Messages, `SELECT id, conversation_id, seq, role, content, model, cut_short, created_at FROM messages
			ORDER BY conversation_id, seq`, func(r pgx.Rows) (any, error) {
			var m transfer.Message
			err := r.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.Role, &m.Content, &m.Model, &m.CutShort, &m.CreatedAt)
			m.CreatedAt = utc(m.CreatedAt)
			return m, err
		}},
		{transfer.Images, "SELECT " + imageColumns + ", content FROM images ORDER BY created_at, id", func(r pgx.Rows) (any, error) {
			var i transfer.Image
			err := r.Scan(&i.ID, &i.UserID, &i.Prompt, &i.Model, &i.MediaType, &i.Bytes, &i.SHA256, &i.CreatedAt, &i.Content)
			i.CreatedAt = utc(i.CreatedAt)
			return i, err
		}},
		{transfer.APIKeys, `SELECT id, user_id, name, prefix, secret_hash, scopes, requests_per_minute, created_at, expires_at,
			revoked_at, last_used_at, last_used_ip FROM api_keys ORDER BY created_at, id`, func(r pgx.Rows) (any, error) {
			var k transfer.APIKey
			err := r.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.SecretHash, &k.Scopes, &k.RequestsPerMinute, &k.CreatedAt,
				&k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt, &k.LastUsedIP)
			k.CreatedAt, k.ExpiresAt, k.RevokedAt, k.LastUsedAt = utc(k.CreatedAt), utcPtr(k.ExpiresAt), utcPtr(k.RevokedAt), utcPtr(k.LastUsedAt)
			return k, err
		}},
		{transfer.UserBudgets, "SELECT user_id, monthly_usd, updated_at FROM user_budgets ORDER BY user_id", func(r pgx.Rows) (any, error) {
			var b transfer.UserBudget
			err := r.Scan(&b.UserID, &b.MonthlyUSD, &b.UpdatedAt)
			b.UpdatedAt = utc(b.UpdatedAt)
			return b, err
		}},
		{transfer.AccountTokens, `SELECT id, user_id, purpose, token_hash, created_at, expires_at, used_at FROM account_tokens
			ORDER BY created_at, id`, func(r pgx.Rows) (any, error) {
			var a transfer.AccountToken
			err := r.Scan(&a.ID, &a.UserID, &a.Purpose, &a.TokenHash, &a.CreatedAt, &a.ExpiresAt, &a.UsedAt)
			a.CreatedAt, a.ExpiresAt, a.UsedAt = utc(a.CreatedAt), utc(a.ExpiresAt), utcPtr(a.UsedAt)
			return a, err
		}},
	} {
		rows, err := tx.Query(ctx, e.query)
		if err != nil {
			return fmt.Errorf("store: export %s: %w", e.table, err)
		}
		for rows.Next() {
			v, err := e.row(rows)
			if err == nil {
				err = w.Write(e.table, v)
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("store: export %s: %w", e.table, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: export %s: %w", e.table, err)
		}
	}
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// liveSessionsFromTokens rebuilds the sessions table from refresh_tokens
// after an import: the newest active token of each family that has no
// successor and has not expired is its current token, and the token it
// replaced its parent (DuckDB builds its session cache the same way).
//
//nolint:gosec // G101: SQL naming token columns, not a credential
const liveSessionsFromTokens = `
INSERT INTO sessions (family_id, user_id, born, token_id, token_hash, parent_id, parent_hash, rotated_at, last_used, expires_at,
    user_agent, ip, short)
SELECT DISTINCT ON (t.family_id) t.family_id, t.user_id, t.family_created_at, t.id, t.token_hash, p.id, p.token_hash,
    CASE WHEN p.id IS NULL THEN NULL ELSE t.created_at END, t.created_at, t.expires_at, t.user_agent, t.ip, t.short_session
FROM refresh_tokens t LEFT JOIN refresh_tokens p ON p.id = t.parent_id
WHERE t.status = 'active' AND t.expires_at > $1
  AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_id = t.id)
ORDER BY t.family_id, t.created_at DESC, t.id DESC`

// Import loads an export into this database, which must be empty, in one
// transaction (all of it or nothing), copying each table with COPY, then
// rebuilds the sessions table so that sessions live at the export go on
// refreshing.
func (s *Store) Import(ctx context.Context, r *transfer.Reader) error {
	if v := r.Manifest.SchemaVersion; v != LatestSchema() {
		return fmt.Errorf("store: the export is at schema version %d, this binary at %d: export and import with the same version", v, LatestSchema())
	}
	return s.inTx(ctx, func(t *tx) error {
		if _, err := t.exec("SET LOCAL statement_timeout = 0"); err != nil {
			return fmt.Errorf("store: import: %w", err)
		}
		for _, table := range append([]string{"sessions"}, transfer.Tables...) {
			var n int
			if err := t.queryRow("SELECT count(*) FROM " + pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
				return fmt.Errorf("store: import: %w", err)
			}
			if n > 0 {
				return fmt.Errorf("store: import: the database is not empty (%s has %d rows); import into a new database, before any backend starts on it", table, n)
			}
		}
		steps := []func() error{
			func() error {
				return copyRows(t, r, transfer.Users, strings.Split(userColumns, ", "), func(u transfer.User) []any {
					return []any{u.ID, clean(u.Email), u.PasswordHash, u.Role, micro(u.CreatedAt), micro(u.UpdatedAt)}
				})
			},
			func() error {
				return copyRows(t, r, transfer.RefreshTokens, []string{"id", "token_hash", "family_id", "user_id", "parent_id", "status",
					"created_at", "expires_at", "family_created_at", "user_agent", "ip", "revoked_at", "short_session"}, func(k transfer.RefreshToken) []any {
					return []any{k.ID, k.TokenHash, k.FamilyID, k.UserID, k.ParentID, k.Status, micro(k.CreatedAt), micro(k.ExpiresAt),
						micro(k.FamilyCreatedAt), clean(k.UserAgent), clean(k.IP), timeArg(k.RevokedAt), k.ShortSession}
				})
			},
			func() error {
				return copyRows(t, r, transfer.AuditLog, []string{"id", "occurred_at", "actor_id", "action", "target_id", "detail", "request_id",
					"actor_email", "target_email"},
					func(a transfer.Audit) []any {
						return []any{a.ID, micro(a.At), nullable(transfer.Str(a.ActorID)), clean(a.Action), nullable(transfer.Str(a.TargetID)),
							nullable(transfer.Str(a.Detail)), nullable(transfer.Str(a.RequestID)), nullable(transfer.Str(a.ActorEmail)),
							nullable(transfer.Str(a.TargetEmail))}
					})
			},
			func() error {
				return copyRows(t, r, transfer.AIUsage, []string{"id", "occurred_at", "user_id", "kind", "model", "status", "latency_ms",
					"prompt_tokens", "completion_tokens", "cost", "generation_id", "error_kind"}, func(u transfer.Usage) []any {
					id := u.ID
					if id == uuid.Nil { // DuckDB's ai_usage has no key; ours does
						id = uuid.Must(uuid.NewV7())
					}
					return []any{id, micro(u.At), u.UserID, clean(u.Kind), clean(u.Model), clean(u.Status), u.LatencyMS, u.PromptTokens,
						u.CompletionTokens, u.Cost, nullable(transfer.Str(u.GenerationID)), nullable(transfer.Str(u.ErrorKind))}
				})
			},
			func() error {
				return copyRows(t, r, transfer.VideoJobs, strings.Split(videoColumns, ", "), func(v transfer.VideoJob) []any {
					return []any{v.ID, v.UserID, clean(v.UpstreamID), clean(v.PollingURL), clean(v.Status), clean(v.Model), clean(v.Prompt),
						clean(v.Params), nullable(transfer.Str(v.ErrorMessage)), v.Cost, micro(v.CreatedAt), micro(v.UpdatedAt), timeArg(v.PolledAt)}
				})
			},
			func() error {
				return copyRows(t, r, transfer.LoginThrottle, []string{"key", "failures", "window_start", "locked_until"},
					func(k transfer.Throttle) []any {
						return []any{clean(k.Key), k.Failures, micro(k.WindowStart), timeArg(k.LockedUntil)}
					})
			},
			func() error {
				return copyRows(t, r, transfer.Conversations, strings.Split(strings.ReplaceAll(conversationColumns, "c.", ""), ", "),
					func(c transfer.Conversation) []any {
						return []any{c.ID, c.UserID, clean(c.Title), c.Pinned, clean(c.Model), clean(c.SystemPrompt), micro(c.CreatedAt), micro(c.UpdatedAt)}
					})
			},
			func() error {
				return copyRows(t, r, transfer.Messages, []string{"id", "conversation_id", "seq", "role", "content", "model", "cut_short", "created_at"},
					func(m transfer.Message) []any {
						return []any{m.ID, m.ConversationID, m.Seq, clean(m.Role), clean(m.Content), clean(m.Model), m.CutShort, micro(m.CreatedAt)}
					})
			},
			func() error {
				return copyRows(t, r, transfer.Images, append(strings.Split(imageColumns, ", "), "content"), func(i transfer.Image) []any {
					return []any{i.ID, i.UserID, clean(i.Prompt), clean(i.Model), clean(i.MediaType), i.Bytes, clean(i.SHA256), micro(i.CreatedAt),
						i.Content}
				})
			},
			func() error {
				return copyRows(t, r, transfer.APIKeys, []string{"id", "user_id", "name", "prefix", "secret_hash", "scopes", "requests_per_minute",
					"created_at", "expires_at", "revoked_at", "last_used_at", "last_used_ip"}, func(k transfer.APIKey) []any {
					scopes := cleanAll(k.Scopes)
					return []any{k.ID, k.UserID, clean(k.Name), clean(k.Prefix), clean(k.SecretHash), scopes, k.RequestsPerMinute,
						micro(k.CreatedAt), timeArg(k.ExpiresAt), timeArg(k.RevokedAt), timeArg(k.LastUsedAt), nullable(transfer.Str(k.LastUsedIP))}
				})
			},
			func() error {
				return copyRows(t, r, transfer.UserBudgets, []string{"user_id", "monthly_usd", "updated_at"}, func(b transfer.UserBudget) []any {
					return []any{b.UserID, b.MonthlyUSD, micro(b.UpdatedAt)}
				})
			},
			func() error {
				return copyRows(t, r, transfer.AccountTokens, []string{"id", "user_id", "purpose", "token_hash", "created_at", "expires_at", "used_at"},
					func(a transfer.AccountToken) []any {
						return []any{a.ID, a.UserID, clean(a.Purpose), clean(a.TokenHash), micro(a.CreatedAt), micro(a.ExpiresAt), timeArg(a.UsedAt)}
					})
			},
			func() error {
				if _, err := t.exec(liveSessionsFromTokens, micro(s.now())); err != nil {
					return fmt.Errorf("store: import: rebuild sessions: %w", err)
				}
				return nil
			},
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
}

// copyRows copies table's rows in chunks with COPY, inside the import's
// transaction.
func copyRows[T any](t *tx, r *transfer.Reader, table string, columns []string, values func(T) []any) error {
	var chunk transfer.Chunk[any]
	flush := func() error {
		if len(chunk.Rows) == 0 {
			return nil
		}
		_, err := t.CopyFrom(t.ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(chunk.Rows))
		chunk.Reset()
		return err
	}
	err := transfer.Each(r, table, func(row T) error {
		if chunk.Add(values(row)) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("store: import %s: %w", table, err)
	}
	return nil
}
