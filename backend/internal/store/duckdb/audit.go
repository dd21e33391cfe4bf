package duckdb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

func (t *Tx) audit(a *model.Audit) error {
	if a == nil {
		return nil
	}
	a.ID = uuid.Must(uuid.NewV7())
	a.At = t.s.now().Truncate(time.Microsecond)
	a.ActorEmail = t.emailOf(a.ActorID, a.ActorEmail)
	a.TargetEmail = t.emailOf(a.TargetID, a.TargetEmail)
	if _, err := t.exec(t.st.insertAudit, a.ID, a.At, nullable(a.ActorID), a.Action,
		nullable(a.TargetID), nullable(a.Detail), nullable(a.RequestID), nullable(a.ActorEmail), nullable(a.TargetEmail)); err != nil {
		return fmt.Errorf("store: insert audit record: %w", err)
	}
	return nil
}

// emailOf is given when set, else the email of the user whose id is id,
// as this transaction sees it ("" for no user).
func (t *Tx) emailOf(id, given string) string {
	if given != "" {
		return given
	}
	uid, err := uuid.Parse(id)
	if err != nil {
		return ""
	}
	if u, ok, _ := t.s.users.get(uid); ok && !t.changedUser[uid] {
		return u.Email
	}
	u, err := scanUser(t.queryRow(t.st.userByID, uid))
	if err != nil {
		return ""
	}
	return u.Email
}

// AppendAudit records a security event that changes nothing else (a failed
// sign-in, a lock-out).
func (s *Store) AppendAudit(ctx context.Context, a *model.Audit) error {
	return s.write(ctx, func(t *Tx) error { return t.audit(a) })
}

// ListAudit returns audit records, newest first, and how many match.
func (s *Store) ListAudit(ctx context.Context, f model.AuditFilter) ([]model.Audit, int, error) {
	where, args := " WHERE true", []any{}
	if f.Actor != "" {
		where += " AND actor_id = ?"
		args = append(args, f.Actor)
	}
	if f.Email != "" {
		where += " AND (contains(lower(coalesce(actor_email, '')), ?) OR contains(lower(coalesce(target_email, '')), ?))"
		args = append(args, strings.ToLower(f.Email), strings.ToLower(f.Email))
	}
	if f.Action != "" {
		where += " AND action = ?"
		args = append(args, f.Action)
	}
	if !f.Since.IsZero() {
		where += " AND occurred_at >= ?"
		args = append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		where += " AND occurred_at < ?"
		args = append(args, f.Until.UTC())
	}
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM audit_log"+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count audit: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, occurred_at, coalesce(actor_id, ''), action, coalesce(target_id, ''),
		coalesce(detail, ''), coalesce(request_id, ''), coalesce(actor_email, ''), coalesce(target_email, '') FROM audit_log`+where+" ORDER BY occurred_at DESC, id DESC LIMIT ? OFFSET ?",
		append(args, f.Limit, f.Offset)...)
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
		out = append(out, a)
	}
	return out, total, rows.Err()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
