package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/shared/api"
)

// Refresh-token states as stored. "expired" is not stored: it is an active
// or rotated token past its expires_at.
const (
	tokenActive  = "active"
	tokenRotated = "rotated"
	tokenRevoked = "revoked"
)

// NewSession is a sign-in: the first refresh token of a new family.
type NewSession struct {
	UserID    uuid.UUID
	TokenHash string
	ExpiresAt time.Time
	UserAgent string
	IP        string
}

// Session describes a live session (a family with an active token).
type Session struct {
	ID         uuid.UUID // the family id: the access tokens' sid
	UserID     uuid.UUID
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	UserAgent  string
	IP         string
}

// CreateSession stores the first refresh token of a new session and returns
// the session id.
func (s *Store) CreateSession(ctx context.Context, ns NewSession) (uuid.UUID, error) {
	family := uuid.Must(uuid.NewV7())
	now := s.now().Truncate(time.Microsecond)
	err := s.write(ctx, func(t *Tx) error {
		if _, err := t.exec(t.st.insertToken, uuid.Must(uuid.NewV7()), ns.TokenHash, family, ns.UserID,
			now, ns.ExpiresAt, now, ns.UserAgent, ns.IP); err != nil {
			return fmt.Errorf("store: insert refresh token: %w", err)
		}
		t.AfterCommit(func() { s.sessions.set(family, ns.UserID, ns.ExpiresAt) })
		return nil
	})
	return family, err
}

// Rotation exchanges the refresh token with hash OldHash for a new one.
type Rotation struct {
	OldHash   string
	NewHash   string
	ExpiresAt time.Time
	UserAgent string
	IP        string
	RequestID string
}

// Rotate performs one refresh as one atomic step: the presented token must be
// active and unexpired; it becomes rotated and its successor is inserted. A
// rotated token presented again revokes its whole family (RFC 9700 4.14)
// and yields ErrTokenReused; anything else unusable yields ErrTokenInvalid.
// Concurrent rotations are applied together by the writer (rotateRun).
func (s *Store) Rotate(ctx context.Context, r Rotation) (Session, error) {
	job := &rotationJob{r: r}
	err := s.w.submit(&writeOp{ctx: ctx, rotation: job, done: make(chan error, 1)})
	return job.out, err
}

// rotationJob is one queued Rotate call and, once applied, its session.
type rotationJob struct {
	r   Rotation
	out Session
}

type tokenRow struct {
	id, family, user uuid.UUID
	status           string
	expiresAt, born  time.Time
}

// rotateRun applies consecutive rotations of one batch with one SELECT of
// all presented tokens, one UPDATE of those rotated and one INSERT of their
// successors. A point query costs ~0.45 ms in DuckDB whatever it returns, so
// three statements per batch instead of three per rotation is what lets
// refresh pass 2,000/s. The outcome per rotation is exactly that of running
// them one after another: state is tracked in memory in batch order.
func (s *Store) rotateRun(t *Tx, ops []*writeOp, results []error) error {
	rows, err := s.tokensByHash(t, ops)
	if err != nil {
		return err
	}
	now := s.now().Truncate(time.Microsecond)
	var pending rotationWrites
	for i, op := range ops {
		job := op.rotation
		row := rows[job.r.OldHash]
		switch {
		case row == nil:
			results[i] = rule(ErrTokenInvalid)
		case row.status == tokenRotated && now.Before(row.expiresAt):
			// Reuse. Write what is pending first, so the revocation also
			// covers a successor issued earlier in this batch.
			if err := pending.flush(t); err != nil {
				return err
			}
			results[i] = s.revokeReusedFamily(t, row.family, row.user, job.r.RequestID)
			for _, other := range rows {
				if other.family == row.family {
					other.status = tokenRevoked
				}
			}
		case row.status != tokenActive || !now.Before(row.expiresAt):
			results[i] = rule(ErrTokenInvalid)
		default:
			row.status = tokenRotated
			pending.rotated = append(pending.rotated, row.id)
			pending.successors = append(pending.successors, tokenValues(uuid.Must(uuid.NewV7()), job.r.NewHash, row.family,
				row.user, now, job.r.ExpiresAt, row.born, job.r.UserAgent, job.r.IP))
			job.out = Session{ID: row.family, UserID: row.user, CreatedAt: row.born, LastUsedAt: now,
				ExpiresAt: job.r.ExpiresAt, UserAgent: job.r.UserAgent, IP: job.r.IP}
			family, user, exp := row.family, row.user, job.r.ExpiresAt
			t.AfterCommit(func() { s.sessions.set(family, user, exp) })
		}
	}
	return pending.flush(t)
}

// tokensByHash reads the presented tokens of a run in one indexed query.
func (s *Store) tokensByHash(t *Tx, ops []*writeOp) (map[string]*tokenRow, error) {
	args := make([]any, 0, len(ops))
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if h := op.rotation.r.OldHash; !seen[h] {
			seen[h] = true
			args = append(args, h)
		}
	}
	rows, err := t.conn.QueryContext(t.ctx, `SELECT token_hash, id, family_id, user_id, status, expires_at, family_created_at
		FROM refresh_tokens WHERE token_hash IN (`+placeholders(len(args), 1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: find refresh tokens: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*tokenRow, len(args))
	for rows.Next() {
		var hash string
		r := &tokenRow{}
		if err := rows.Scan(&hash, &r.id, &r.family, &r.user, &r.status, &r.expiresAt, &r.born); err != nil {
			return nil, fmt.Errorf("store: scan refresh token: %w", err)
		}
		out[hash] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: find refresh tokens: %w", err)
	}
	return out, nil
}

// rotationWrites are the statements a run has decided but not yet sent.
type rotationWrites struct {
	rotated    []uuid.UUID
	successors [][]driver.Value
}

// tokenColumns are the columns the appender fills, in tokenValues' order.
var tokenColumns = []string{"id", "token_hash", "family_id", "user_id", "status", "created_at", "expires_at",
	"family_created_at", "user_agent", "ip"}

// tokenValues is one active refresh-token row for the appender, which takes
// UUIDs as 16 bytes.
func tokenValues(id uuid.UUID, hash string, family, user uuid.UUID, created, expires, born time.Time, ua, ip string) []driver.Value {
	return []driver.Value{id[:], hash, family[:], user[:], tokenActive, created, expires, born, ua, ip}
}

func (p *rotationWrites) flush(t *Tx) error {
	if len(p.rotated) > 0 {
		args := make([]any, len(p.rotated))
		for i, id := range p.rotated {
			args[i] = id
		}
		if _, err := t.conn.ExecContext(t.ctx, "UPDATE refresh_tokens SET status = 'rotated' WHERE id IN ("+
			placeholders(len(args), 1)+")", args...); err != nil {
			return fmt.Errorf("store: mark tokens rotated: %w", err)
		}
	}
	if len(p.successors) > 0 {
		if err := t.appendRows("refresh_tokens", tokenColumns, p.successors); err != nil {
			return fmt.Errorf("store: insert successor tokens: %w", err)
		}
	}
	p.rotated, p.successors = p.rotated[:0], p.successors[:0]
	return nil
}

// placeholders writes n "?" (width 1) or n parenthesised groups of width "?".
func placeholders(n, width int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		if width == 1 {
			b.WriteByte('?')
			continue
		}
		b.WriteByte('(')
		for j := 0; j < width; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

func (s *Store) revokeReusedFamily(t *Tx, family, user uuid.UUID, requestID string) error {
	if _, err := t.exec(t.st.revokeFamily, s.now(), family); err != nil {
		return fmt.Errorf("store: revoke reused family: %w", err)
	}
	err := t.audit(&Audit{Action: api.AuditFamilyRevoked, ActorID: user.String(), TargetID: family.String(),
		Detail: "a rotated refresh token was presented again; the session was revoked", RequestID: requestID})
	if err != nil {
		return err
	}
	t.AfterCommit(func() { s.sessions.drop(family) })
	return rule(ErrTokenReused)
}

// RevokeByToken ends the session of the refresh token with this hash
// (logout). An unknown hash is not an error.
func (s *Store) RevokeByToken(ctx context.Context, hash string) error {
	return s.write(ctx, func(t *Tx) error {
		var (
			id, family, user uuid.UUID
			status           string
			expiresAt, born  time.Time
		)
		err := t.queryRow(t.st.tokenByHash, hash).Scan(&id, &family, &user, &status, &expiresAt, &born)
		if err != nil {
			if errors.Is(notFound(err), ErrNotFound) {
				return nil
			}
			return fmt.Errorf("store: find refresh token: %w", err)
		}
		if _, err := t.exec(t.st.revokeFamily, s.now(), family); err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		t.AfterCommit(func() { s.sessions.drop(family) })
		return nil
	})
}

// RevokeSession ends one session of user; ErrNotFound if it is not one of
// the user's live sessions.
func (s *Store) RevokeSession(ctx context.Context, user, family uuid.UUID) error {
	if owner, ok := s.sessions.active(family, s.now()); !ok || owner != user {
		return ErrNotFound
	}
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.exec(t.st.revokeFamily, s.now(), family); err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		t.AfterCommit(func() { s.sessions.drop(family) })
		return nil
	})
}

// RevokeOtherSessions ends every session of user but keep.
func (s *Store) RevokeOtherSessions(ctx context.Context, user, keep uuid.UUID) error {
	return s.write(ctx, func(t *Tx) error { return s.revokeSessionsExcept(t, user, keep) })
}

func (s *Store) revokeSessionsExcept(t *Tx, user, keep uuid.UUID) error {
	for _, family := range s.sessions.ofUser(user) {
		if family == keep {
			continue
		}
		if _, err := t.exec(t.st.revokeFamily, s.now(), family); err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		t.AfterCommit(func() { s.sessions.drop(family) })
	}
	return nil
}

// SessionActive reports whether session family is live, and whose it is. It
// reads memory only: this runs on every authenticated request.
func (s *Store) SessionActive(family uuid.UUID) (uuid.UUID, bool) {
	return s.sessions.active(family, s.now())
}

// Sessions lists the user's live sessions, most recently used first.
func (s *Store) Sessions(ctx context.Context, user uuid.UUID) ([]Session, error) {
	rows, err := s.stmts.tokensByUser.QueryContext(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	defer rows.Close()
	now := s.now()
	var out []Session
	for rows.Next() {
		var (
			se     = Session{UserID: user}
			status string
		)
		if err := rows.Scan(&se.ID, &status, &se.LastUsedAt, &se.ExpiresAt, &se.CreatedAt, &se.UserAgent, &se.IP); err != nil {
			return nil, fmt.Errorf("store: scan session: %w", err)
		}
		if status == tokenActive && now.Before(se.ExpiresAt) {
			out = append(out, se)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsedAt.After(out[j].LastUsedAt) })
	return out, nil
}

// TokenCounts counts refresh tokens per state (active, rotated, revoked,
// expired).
func (s *Store) TokenCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT CASE WHEN status <> 'revoked' AND expires_at <= ? THEN 'expired' ELSE status END AS state,
		count(*) FROM refresh_tokens GROUP BY state`, s.now())
	if err != nil {
		return nil, fmt.Errorf("store: count tokens: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("store: count tokens: %w", err)
		}
		out[state] = n
	}
	return out, rows.Err()
}

// purgeBatch bounds one purge transaction: a DELETE costs 100–200 µs per
// indexed row here, and other writes wait while it runs.
const purgeBatch = 500

// PurgeTokens deletes revoked and expired refresh tokens in small batches
// and records one audit entry. It returns how many rows went.
func (s *Store) PurgeTokens(ctx context.Context, audit *Audit) (int, error) {
	total := 0
	for {
		var n int64
		err := s.write(ctx, func(t *Tx) error {
			res, err := t.conn.ExecContext(t.ctx, `DELETE FROM refresh_tokens WHERE id IN (
				SELECT id FROM refresh_tokens WHERE status = 'revoked' OR expires_at <= ? LIMIT ?)`, s.now(), purgeBatch)
			if err != nil {
				return fmt.Errorf("store: purge tokens: %w", err)
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < purgeBatch {
			break
		}
	}
	if audit != nil {
		audit.Detail = fmt.Sprintf("purged %d refresh tokens", total)
		if err := s.AppendAudit(ctx, audit); err != nil {
			return total, err
		}
	}
	return total, nil
}

// loadSessions fills the session cache from the database at start-up.
func (s *Store) loadSessions(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "SELECT family_id, user_id, expires_at FROM refresh_tokens WHERE status = 'active' AND expires_at > ?", s.now())
	if err != nil {
		return fmt.Errorf("store: load sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var family, user uuid.UUID
		var exp time.Time
		if err := rows.Scan(&family, &user, &exp); err != nil {
			return fmt.Errorf("store: load sessions: %w", err)
		}
		s.sessions.set(family, user, exp)
	}
	return rows.Err()
}
