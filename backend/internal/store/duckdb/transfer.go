package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/store/transfer"
)

// Export writes every table to w from one transaction, so the export is
// one consistent state of the database (the backend is stopped anyway:
// DuckDB lets one process open the file).
func (s *Store) Export(ctx context.Context, w *transfer.Writer) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, e := range []struct {
		table, query string
		row          func(*sql.Rows) (any, error)
	}{
		{transfer.Users, "SELECT " + userColumns + " FROM users ORDER BY created_at, id", func(r *sql.Rows) (any, error) {
			var u transfer.User
			err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.CreatedAt, &u.UpdatedAt)
			return u, err
		}},
		{transfer.RefreshTokens, `SELECT id, token_hash, family_id, user_id, parent_id, status, created_at, expires_at,
			family_created_at, user_agent, ip, revoked_at, coalesce(short_session, false) FROM refresh_tokens ORDER BY created_at, id`, func(r *sql.Rows) (any, error) {
			var t transfer.RefreshToken
			var parent uuid.NullUUID
			var revoked sql.NullTime
			err := r.Scan(&t.ID, &t.TokenHash, &t.FamilyID, &t.UserID, &parent, &t.Status, &t.CreatedAt, &t.ExpiresAt,
				&t.FamilyCreatedAt, &t.UserAgent, &t.IP, &revoked, &t.ShortSession)
			t.ParentID, t.RevokedAt = uuidPtr(parent), timePtr(revoked)
			return t, err
		}},
		{transfer.AuditLog, `SELECT id, occurred_at, actor_id, action, target_id, detail, request_id, actor_email, target_email
			FROM audit_log ORDER BY occurred_at, id`,
			func(r *sql.Rows) (any, error) {
				var a transfer.Audit
				var actor, target, detail, req, actorEmail, targetEmail sql.NullString
				err := r.Scan(&a.ID, &a.At, &actor, &a.Action, &target, &detail, &req, &actorEmail, &targetEmail)
				a.ActorID, a.TargetID, a.Detail, a.RequestID = strPtr(actor), strPtr(target), strPtr(detail), strPtr(req)
				a.ActorEmail, a.TargetEmail = strPtr(actorEmail), strPtr(targetEmail)
				return a, err
			}},
		{transfer.AIUsage, "SELECT " + strings.Join(usageColumns, ", ") + " FROM ai_usage ORDER BY occurred_at, id", func(r *sql.Rows) (any, error) {
			var u transfer.Usage
			var cost sql.NullFloat64
			var gen, kind sql.NullString
			err := r.Scan(&u.ID, &u.At, &u.UserID, &u.Kind, &u.Model, &u.Status, &u.LatencyMS, &u.PromptTokens, &u.CompletionTokens,
				&cost, &gen, &kind)
			u.Cost, u.GenerationID, u.ErrorKind = floatPtr(cost), strPtr(gen), strPtr(kind)
			return u, err
		}},
		{transfer.VideoJobs, "SELECT " + videoColumns + " FROM video_jobs ORDER BY created_at, id", func(r *sql.Rows) (any, error) {
			var v transfer.VideoJob
			var errMsg sql.NullString
			var cost sql.NullFloat64
			var polled sql.NullTime
			err := r.Scan(&v.ID, &v.UserID, &v.UpstreamID, &v.PollingURL, &v.Status, &v.Model, &v.Prompt, &v.Params,
				&errMsg, &cost, &v.CreatedAt, &v.UpdatedAt, &polled)
			v.ErrorMessage, v.Cost, v.PolledAt = strPtr(errMsg), floatPtr(cost), timePtr(polled)
			return v, err
		}},
		{transfer.LoginThrottle, "SELECT key, failures, window_start, locked_until FROM login_throttle ORDER BY key", func(r *sql.Rows) (any, error) {
			var t transfer.Throttle
			var until sql.NullTime
			err := r.Scan(&t.Key, &t.Failures, &t.WindowStart, &until)
			t.LockedUntil = timePtr(until)
			return t, err
		}},
		{transfer.Conversations, "SELECT " + conversationColumns + " FROM conversations c ORDER BY c.created_at, c.id", func(r *sql.Rows) (any, error) {
			var c transfer.Conversation
			err := r.Scan(&c.ID, &c.UserID, &c.Title, &c.Pinned, &c.Model, &c.SystemPrompt, &c.CreatedAt, &c.UpdatedAt)
			return c, err
		}},
		{transfer.Messages, `SELECT id, conversation_id, seq, role, content, model, cut_short, created_at FROM messages
			ORDER BY conversation_id, seq`, func(r *sql.Rows) (any, error) {
			var m transfer.Message
			err := r.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.Role, &m.Content, &m.Model, &m.CutShort, &m.CreatedAt)
			return m, err
		}},
		{transfer.Images, "SELECT " + imageColumns + ", content FROM images ORDER BY created_at, id", func(r *sql.Rows) (any, error) {
			var i transfer.Image
			err := r.Scan(&i.ID, &i.UserID, &i.Prompt, &i.Model, &i.MediaType, &i.Bytes, &i.SHA256, &i.CreatedAt, &i.Content)
			return i, err
		}},
		{transfer.APIKeys, `SELECT id, user_id, name, prefix, secret_hash, scopes, requests_per_minute, created_at, expires_at,
			revoked_at, last_used_at, last_used_ip FROM api_keys ORDER BY created_at, id`, func(r *sql.Rows) (any, error) {
			var k transfer.APIKey
			var scopes string
			var expires, revoked, used sql.NullTime
			var ip sql.NullString
			err := r.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.SecretHash, &scopes, &k.RequestsPerMinute, &k.CreatedAt,
				&expires, &revoked, &used, &ip)
			k.Scopes, k.ExpiresAt, k.RevokedAt, k.LastUsedAt, k.LastUsedIP = splitScopes(scopes), timePtr(expires), timePtr(revoked), timePtr(used), strPtr(ip)
			return k, err
		}},
		{transfer.UserBudgets, "SELECT user_id, monthly_usd, updated_at FROM user_budgets ORDER BY user_id", func(r *sql.Rows) (any, error) {
			var b transfer.UserBudget
			err := r.Scan(&b.UserID, &b.MonthlyUSD, &b.UpdatedAt)
			return b, err
		}},
		{transfer.AccountTokens, `SELECT id, user_id, purpose, token_hash, created_at, expires_at, used_at FROM account_tokens
			ORDER BY created_at, id`, func(r *sql.Rows) (any, error) {
			var a transfer.AccountToken
			var used sql.NullTime
			err := r.Scan(&a.ID, &a.UserID, &a.Purpose, &a.TokenHash, &a.CreatedAt, &a.ExpiresAt, &used)
			a.UsedAt = timePtr(used)
			return a, err
		}},
	} {
		if err := exportTable(ctx, tx, w, e.table, e.query, e.row); err != nil {
			return err
		}
	}
	return nil
}

func exportTable(ctx context.Context, tx *sql.Tx, w *transfer.Writer, table, query string, row func(*sql.Rows) (any, error)) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("store: export %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := row(rows)
		if err != nil {
			return fmt.Errorf("store: export %s: %w", table, err)
		}
		if err := w.Write(table, utcRow(v)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: export %s: %w", table, err)
	}
	return nil
}

// Import loads an export into this database, which must be empty, in one
// transaction: all of it or nothing. The caches are rebuilt from the
// imported rows, so sessions that were live go on refreshing.
func (s *Store) Import(ctx context.Context, r *transfer.Reader) error {
	if v := r.Manifest.SchemaVersion; v != LatestSchema() {
		return fmt.Errorf("store: the export is at schema version %d, this binary at %d: export and import with the same version", v, LatestSchema())
	}
	return s.write(ctx, func(t *Tx) error {
		for _, table := range transfer.Tables {
			var n int
			if err := t.conn.QueryRowContext(t.ctx, "SELECT count(*) FROM "+ident(table)).Scan(&n); err != nil {
				return fmt.Errorf("store: import: %w", err)
			}
			if n > 0 {
				return fmt.Errorf("store: import: the database is not empty (%s has %d rows); import into a new database", table, n)
			}
		}
		tokens := append(append([]string{}, tokenColumns...), "revoked_at") // short_session is among tokenColumns
		steps := []func() error{
			func() error {
				return importRows(t, r, transfer.Users, strings.Split(userColumns, ", "), func(u transfer.User) []driver.Value {
					return []driver.Value{u.ID[:], u.Email, u.PasswordHash, u.Role, u.CreatedAt.UTC(), u.UpdatedAt.UTC()}
				})
			},
			func() error {
				return importRows(t, r, transfer.RefreshTokens, tokens, func(k transfer.RefreshToken) []driver.Value {
					var parent driver.Value
					if k.ParentID != nil {
						parent = k.ParentID[:]
					}
					return []driver.Value{k.ID[:], k.TokenHash, k.FamilyID[:], k.UserID[:], parent, k.Status, k.CreatedAt.UTC(),
						k.ExpiresAt.UTC(), k.FamilyCreatedAt.UTC(), k.UserAgent, k.IP, k.ShortSession, timeValue(k.RevokedAt)}
				})
			},
			func() error {
				return importRows(t, r, transfer.AuditLog, []string{"id", "occurred_at", "actor_id", "action", "target_id", "detail", "request_id",
					"actor_email", "target_email"},
					func(a transfer.Audit) []driver.Value {
						return []driver.Value{a.ID[:], a.At.UTC(), strValue(a.ActorID), a.Action, strValue(a.TargetID), strValue(a.Detail), strValue(a.RequestID),
							strValue(a.ActorEmail), strValue(a.TargetEmail)}
					})
			},
			func() error {
				return importRows(t, r, transfer.AIUsage, usageColumns, func(u transfer.Usage) []driver.Value {
					var cost driver.Value
					if u.Cost != nil {
						cost = *u.Cost
					}
					return []driver.Value{u.ID[:], u.At.UTC(), u.UserID[:], u.Kind, u.Model, u.Status, u.LatencyMS, u.PromptTokens,
						u.CompletionTokens, cost, strValue(u.GenerationID), strValue(u.ErrorKind)}
				})
			},
			func() error {
				return importRows(t, r, transfer.VideoJobs, strings.Split(videoColumns, ", "), func(v transfer.VideoJob) []driver.Value {
					var cost driver.Value
					if v.Cost != nil {
						cost = *v.Cost
					}
					return []driver.Value{v.ID[:], v.UserID[:], v.UpstreamID, v.PollingURL, v.Status, v.Model, v.Prompt, v.Params,
						strValue(v.ErrorMessage), cost, v.CreatedAt.UTC(), v.UpdatedAt.UTC(), timeValue(v.PolledAt)}
				})
			},
			func() error {
				return importRows(t, r, transfer.LoginThrottle, []string{"key", "failures", "window_start", "locked_until"},
					func(k transfer.Throttle) []driver.Value {
						return []driver.Value{k.Key, k.Failures, k.WindowStart.UTC(), timeValue(k.LockedUntil)}
					})
			},
			func() error {
				return importRows(t, r, transfer.Conversations, strings.Split(strings.ReplaceAll(conversationColumns, "c.", ""), ", "),
					func(c transfer.Conversation) []driver.Value {
						return []driver.Value{c.ID[:], c.UserID[:], c.Title, c.Pinned, c.Model, c.SystemPrompt, c.CreatedAt.UTC(), c.UpdatedAt.UTC()}
					})
			},
			func() error {
				return importRows(t, r, transfer.Messages, []string{"id", "conversation_id", "seq", "role", "content", "model", "cut_short", "created_at"},
					func(m transfer.Message) []driver.Value {
						return []driver.Value{m.ID[:], m.ConversationID[:], m.Seq, m.Role, m.Content, m.Model, m.CutShort, m.CreatedAt.UTC()}
					})
			},
			func() error {
				return importRows(t, r, transfer.Images, append(strings.Split(imageColumns, ", "), "content"), func(i transfer.Image) []driver.Value {
					return []driver.Value{i.ID[:], i.UserID[:], i.Prompt, i.Model, i.MediaType, i.Bytes, i.SHA256, i.CreatedAt.UTC(), i.Content}
				})
			},
			func() error {
				return importRows(t, r, transfer.APIKeys, []string{"id", "user_id", "name", "prefix", "secret_hash", "scopes", "requests_per_minute",
					"created_at", "expires_at", "revoked_at", "last_used_at", "last_used_ip"}, func(k transfer.APIKey) []driver.Value {
					return []driver.Value{k.ID[:], k.UserID[:], k.Name, k.Prefix, k.SecretHash, strings.Join(k.Scopes, ","), k.RequestsPerMinute,
						k.CreatedAt.UTC(), timeValue(k.ExpiresAt), timeValue(k.RevokedAt), timeValue(k.LastUsedAt), strValue(k.LastUsedIP)}
				})
			},
			func() error {
				return importRows(t, r, transfer.UserBudgets, []string{"user_id", "monthly_usd", "updated_at"}, func(b transfer.UserBudget) []driver.Value {
					return []driver.Value{b.UserID[:], b.MonthlyUSD, b.UpdatedAt.UTC()}
				})
			},
			func() error {
				return importRows(t, r, transfer.AccountTokens, []string{"id", "user_id", "purpose", "token_hash", "created_at", "expires_at", "used_at"},
					func(a transfer.AccountToken) []driver.Value {
						return []driver.Value{a.ID[:], a.UserID[:], a.Purpose, a.TokenHash, a.CreatedAt.UTC(), a.ExpiresAt.UTC(), timeValue(a.UsedAt)}
					})
			},
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		t.AfterCommit(func() {
			if err := s.reloadCaches(context.Background()); err != nil {
				s.log.Error("store: reload caches after an import", "err", err)
			}
		})
		return nil
	})
}

// importRows appends table's rows through the appender, in chunks.
func importRows[T any](t *Tx, r *transfer.Reader, table string, columns []string, values func(T) []driver.Value) error {
	var chunk transfer.Chunk[driver.Value]
	flush := func() error {
		if len(chunk.Rows) == 0 {
			return nil
		}
		err := t.appendRows(table, columns, chunk.Rows)
		chunk.Reset()
		return err
	}
	err := transfer.Each(r, table, func(row T) error {
		if chunk.Add(values(row)) {
			return flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: import %s: %w", table, err)
	}
	return flush()
}

// reloadCaches rebuilds the session, throttle, key and budget mirrors
// from the tables.
func (s *Store) reloadCaches(ctx context.Context) error {
	s.sessions.mu.Lock()
	s.sessions.families = map[uuid.UUID]liveSession{}
	s.sessions.byHash = map[string]uuid.UUID{}
	s.sessions.byParent = map[string]uuid.UUID{}
	s.sessions.byUser = map[uuid.UUID]map[uuid.UUID]struct{}{}
	s.sessions.mu.Unlock()
	if err := s.loadSessions(ctx); err != nil {
		return err
	}
	s.throttle.mu.Lock()
	s.throttle.rows = map[string]throttleRow{}
	s.throttle.mu.Unlock()
	if err := s.loadThrottle(ctx); err != nil {
		return err
	}
	s.keys.reset()
	s.budgets.reset()
	s.spend.reset()
	return s.loadKeys(ctx)
}

func uuidPtr(n uuid.NullUUID) *uuid.UUID {
	if !n.Valid {
		return nil
	}
	return &n.UUID
}

func timePtr(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}

func strPtr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	return &n.String
}

func floatPtr(n sql.NullFloat64) *float64 {
	if !n.Valid {
		return nil
	}
	return &n.Float64
}

func timeValue(t *time.Time) driver.Value {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func strValue(s *string) driver.Value {
	if s == nil {
		return nil
	}
	return *s
}

// utcRow puts a row's required times in UTC (DuckDB's TIMESTAMP has no
// zone; the driver reads it as UTC already, this only makes sure).
func utcRow(v any) any {
	switch r := v.(type) {
	case transfer.User:
		r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
		return r
	case transfer.RefreshToken:
		r.CreatedAt, r.ExpiresAt, r.FamilyCreatedAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC(), r.FamilyCreatedAt.UTC()
		return r
	case transfer.Audit:
		r.At = r.At.UTC()
		return r
	case transfer.Usage:
		r.At = r.At.UTC()
		return r
	case transfer.VideoJob:
		r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
		return r
	case transfer.Throttle:
		r.WindowStart = r.WindowStart.UTC()
		return r
	case transfer.Conversation:
		r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
		return r
	case transfer.Message:
		r.CreatedAt = r.CreatedAt.UTC()
		return r
	case transfer.Image:
		r.CreatedAt = r.CreatedAt.UTC()
		return r
	case transfer.APIKey:
		r.CreatedAt = r.CreatedAt.UTC()
		return r
	case transfer.UserBudget:
		r.UpdatedAt = r.UpdatedAt.UTC()
		return r
	case transfer.AccountToken:
		r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
		return r
	}
	return v
}
