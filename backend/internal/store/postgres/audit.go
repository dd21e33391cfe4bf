package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// insertAudit writes an entry; an email not given is read from the users
// table by the id's user ($10, $11: NULL when the id is no user id), as the
// statement sees it, so it names the person as they were at the time.
const insertAudit = `INSERT INTO audit_log (id, occurred_at, actor_id, action, target_id, detail, request_id, actor_email, target_email)
VALUES ($1, $2, $3, $4, $5, $6, $7,
    coalesce($8::text, (SELECT email FROM users WHERE id = $10::uuid)),
    coalesce($9::text, (SELECT email FROM users WHERE id = $11::uuid)))
RETURNING coalesce(actor_email, ''), coalesce(target_email, '')`

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// writeAudit fills in a's id, time and emails and inserts it.
func (s *Store) writeAudit(ctx context.Context, q querier, a *model.Audit) error {
	a.ID = uuid.Must(uuid.NewV7())
	a.At = micro(s.now())
	if err := q.QueryRow(ctx, insertAudit, a.ID, a.At, nullable(a.ActorID), clean(a.Action), nullable(a.TargetID), nullable(a.Detail),
		nullable(a.RequestID), nullable(a.ActorEmail), nullable(a.TargetEmail), userIDOf(a.ActorID), userIDOf(a.TargetID)).
		Scan(&a.ActorEmail, &a.TargetEmail); err != nil {
		return fmt.Errorf("store: insert audit record: %w", err)
	}
	return nil
}

// userIDOf is the user id an audit field names, or nil (actors and targets
// are also sessions, keys, "operator", …).
func userIDOf(id string) *uuid.UUID {
	u, err := uuid.Parse(id)
	if err != nil {
		return nil
	}
	return &u
}

// audit writes a in the transaction of the change it records.
func (t *tx) audit(a *model.Audit) error {
	if a == nil {
		return nil
	}
	return t.s.writeAudit(t.ctx, t, a)
}

// AppendAudit records a security event that changes nothing else (a failed
// sign-in, a lock-out).
func (s *Store) AppendAudit(ctx context.Context, a *model.Audit) error {
	return s.writeAudit(ctx, s.pool, a)
}

// ListAudit returns audit records, newest first, and how many match.
func (s *Store) ListAudit(ctx context.Context, f model.AuditFilter) ([]model.Audit, int, error) {
	where, args := " WHERE true", []any{}
	if f.Actor != "" {
		args = append(args, clean(f.Actor))
		where += fmt.Sprintf(" AND actor_id = $%d", len(args))
	}
	if f.Email != "" {
		// Literal and case-insensitive, as on DuckDB (strpos, not LIKE).
		args = append(args, clean(strings.ToLower(f.Email)))
		where += fmt.Sprintf(" AND (strpos(lower(coalesce(actor_email, '')), $%d) > 0 OR strpos(lower(coalesce(target_email, '')), $%[1]d) > 0)", len(args))
	}
	if f.Action != "" {
		args = append(args, clean(f.Action))
		where += fmt.Sprintf(" AND action = $%d", len(args))
	}
	if !f.Since.IsZero() {
		args = append(args, f.Since.UTC())
		where += fmt.Sprintf(" AND occurred_at >= $%d", len(args))
	}
	if !f.Until.IsZero() {
		args = append(args, f.Until.UTC())
		where += fmt.Sprintf(" AND occurred_at < $%d", len(args))
	}
	var total int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM audit_log"+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count audit: %w", err)
	}
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT id, occurred_at, coalesce(actor_id, ''), action, coalesce(target_id, ''),
		coalesce(detail, ''), coalesce(request_id, ''), coalesce(actor_email, ''), coalesce(target_email, '')
		FROM audit_log%s ORDER BY occurred_at DESC, id DESC LIMIT $%d OFFSET $%d`,
		where, len(args)+1, len(args)+2), append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list audit: %w", err)
	}
	defer rows.Close()
	var out []model.Audit
	for rows.Next() {
		var a model.Audit
		if err := rows.Scan(&a.ID, &a.At, &a.ActorID, &a.Action, &a.TargetID, &a.Detail, &a.RequestID, &a.ActorEmail, &a.TargetEmail); err != nil {
			return nil, 0, fmt.Errorf("store: scan audit: %w", err)
		}
		a.At = utc(a.At)
		out = append(out, a)
	}
	return out, total, rows.Err()
}
