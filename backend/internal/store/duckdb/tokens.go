package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Refresh-token states as stored. "rotated" is not stored: a token with a
// successor (a row whose parent_id is its id) is rotated. "expired" is not
// stored either: it is a token past its expires_at.
const (
	tokenActive  = "active"
	tokenRevoked = "revoked"
)

// tokenColumns are the columns the appender fills, in tokenValues' order.
var tokenColumns = []string{"id", "token_hash", "family_id", "user_id", "parent_id", "status", "created_at",
	"expires_at", "family_created_at", "user_agent", "ip", "short_session"}

// tokenValues is one new active refresh-token row for the appender (which
// takes UUIDs as 16 bytes); parent is uuid.Nil for a sign-in.
func tokenValues(id uuid.UUID, hash string, family, user, parent uuid.UUID, created, expires, born time.Time, ua, ip string, short bool) []driver.Value {
	var parentValue driver.Value
	if parent != uuid.Nil {
		parentValue = parent[:]
	}
	return []driver.Value{id[:], hash, family[:], user[:], parentValue, tokenActive, created, expires, born, ua, ip, short}
}

// CreateSession stores the first refresh token of a new session and returns
// the session id.
func (s *Store) CreateSession(ctx context.Context, ns model.NewSession) (uuid.UUID, error) {
	family, id := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	now := s.now().Truncate(time.Microsecond)
	err := s.write(ctx, func(t *Tx) error {
		// The account must still be the one the sign-in verified: read
		// inside the batch, so a change earlier in it counts too.
		u, err := scanUser(t.queryRow(t.st.userByID, ns.UserID))
		if errors.Is(err, model.ErrNotFound) || (err == nil && !u.UpdatedAt.Equal(ns.UserUpdatedAt)) {
			return rule(model.ErrAccountChanged)
		} else if err != nil {
			return fmt.Errorf("store: check the account: %w", err)
		}
		row := tokenValues(id, ns.TokenHash, family, ns.UserID, uuid.Nil, now, ns.ExpiresAt, now, ns.UserAgent, ns.IP, ns.Short)
		if err := t.appendRows("refresh_tokens", tokenColumns, [][]driver.Value{row}); err != nil {
			return fmt.Errorf("store: insert refresh token: %w", err)
		}
		if ns.Audit != nil && ns.Audit.TargetEmail == "" {
			ns.Audit.TargetEmail = u.Email
		}
		if err := t.audit(ns.Audit); err != nil {
			return err
		}
		live := liveSession{user: ns.UserID, expiresAt: ns.ExpiresAt, born: now, tokenID: id, tokenHash: ns.TokenHash, short: ns.Short,
			lastUsed: now, userAgent: ns.UserAgent, ip: ns.IP}
		t.AfterCommit(func() { s.sessions.set(family, live) })
		return nil
	})
	return family, err
}

// Rotate performs one refresh as one atomic step: the presented token must be
// the current token of a live session; its successor is inserted and
// becomes current. A rotated token presented again revokes its whole family
// (RFC 9700 4.14) and yields model.ErrTokenReused; anything else unusable yields
// model.ErrTokenInvalid. Concurrent rotations are applied together by the writer
// (rotateRun).
func (s *Store) Rotate(ctx context.Context, r model.Rotation) (model.Session, error) {
	job := &rotationJob{r: r}
	err := s.w.submit(&writeOp{ctx: ctx, rotation: job, done: make(chan error, 1)})
	return job.out, err
}

// rotationJob is one queued Rotate call and, once applied, its session.
type rotationJob struct {
	r   model.Rotation
	out model.Session
}

// rotateRun applies consecutive rotations of one batch. The common case, a
// session's current token, is decided from the session cache and costs one
// appended row; all successors of the run go into the table through one
// appender. A retry (the current token's parent presented again within the
// grace) revokes the unused current token and issues another. Anything
// else (a rotated, revoked, expired or unknown token) is looked up in the
// database, which is where reuse is recognised. Decisions are taken in
// batch order, over the cache as this run has changed it, so the outcome
// is that of running the rotations one after another.
func (s *Store) rotateRun(t *Tx, ops []*writeOp, results []error) error {
	now := s.now().Truncate(time.Microsecond)
	run := newRunSessions(s.sessions)
	var successors [][]driver.Value
	flush := func() error {
		if len(successors) == 0 {
			return nil
		}
		err := t.appendRows("refresh_tokens", tokenColumns, successors)
		successors = successors[:0]
		if err != nil {
			return fmt.Errorf("store: insert successor tokens: %w", err)
		}
		return nil
	}
	// issue makes a successor of the token (parentID, parentHash) current.
	issue := func(job *rotationJob, family uuid.UUID, live liveSession, parentID uuid.UUID, parentHash string, rotatedAt time.Time) {
		id := uuid.Must(uuid.NewV7())
		expires := job.r.ExpiresAt
		if live.short && !job.r.ShortExpiresAt.IsZero() {
			expires = job.r.ShortExpiresAt
		}
		successors = append(successors, tokenValues(id, job.r.NewHash, family, live.user, parentID,
			now, expires, live.born, job.r.UserAgent, job.r.IP, live.short))
		job.out = model.Session{ID: family, UserID: live.user, CreatedAt: live.born, LastUsedAt: now,
			ExpiresAt: expires, UserAgent: job.r.UserAgent, IP: job.r.IP, Short: live.short}
		next := liveSession{user: live.user, expiresAt: expires, born: live.born, tokenID: id, tokenHash: job.r.NewHash,
			parentID: parentID, parentHash: parentHash, rotatedAt: rotatedAt, short: live.short,
			lastUsed: now, userAgent: job.r.UserAgent, ip: job.r.IP}
		run.set(family, next)
		t.AfterCommit(func() { s.sessions.set(family, next) })
	}
	usable := func(family uuid.UUID, live liveSession) bool {
		return !t.ended(family, live.user) && now.Before(live.expiresAt)
	}
	for i, op := range ops {
		job := op.rotation
		if family, live, ok := run.current(job.r.OldHash); ok && usable(family, live) {
			issue(job, family, live, live.tokenID, live.tokenHash, now)
			continue
		}
		// Write the successors decided so far first: a revocation below
		// must also cover a successor issued earlier in this run.
		if err := flush(); err != nil {
			return err
		}
		if family, live, ok := run.retried(job.r.OldHash); ok && usable(family, live) &&
			job.r.RetryGrace > 0 && now.Sub(live.rotatedAt) <= job.r.RetryGrace {
			if err := s.retryRotation(t, job.r, family, live, now); err != nil {
				return err
			}
			issue(job, family, live, live.parentID, live.parentHash, live.rotatedAt)
			continue
		}
		outcome, err := s.staleToken(t, job.r, now)
		if err != nil {
			return err
		}
		results[i] = outcome
	}
	return flush()
}

// retryRotation revokes the current token of a session whose parent was
// presented again within the grace, and audits the retry.
func (s *Store) retryRotation(t *Tx, r model.Rotation, family uuid.UUID, live liveSession, now time.Time) error {
	if _, err := t.exec(t.st.revokeToken, now, live.tokenID); err != nil {
		return fmt.Errorf("store: revoke the unused successor: %w", err)
	}
	return t.audit(&model.Audit{Action: api.AuditRefreshRetried, ActorID: live.user.String(), TargetID: family.String(),
		Detail: fmt.Sprintf("refresh retried: the previous token came back %s after its rotation; its unused successor was revoked",
			now.Sub(live.rotatedAt).Round(time.Millisecond)), RequestID: r.RequestID})
}

// runSessions is the session cache as a run of rotations has changed it so
// far (the cache itself changes only after the commit).
type runSessions struct {
	cache    *sessionCache
	changed  map[uuid.UUID]liveSession
	byHash   map[string]uuid.UUID
	byParent map[string]uuid.UUID
}

func newRunSessions(c *sessionCache) *runSessions {
	return &runSessions{cache: c, changed: map[uuid.UUID]liveSession{}, byHash: map[string]uuid.UUID{}, byParent: map[string]uuid.UUID{}}
}

func (r *runSessions) set(family uuid.UUID, live liveSession) {
	r.changed[family] = live
	r.byHash[live.tokenHash] = family
	r.byParent[live.parentHash] = family
}

// current finds the session whose current token has this hash.
func (r *runSessions) current(hash string) (uuid.UUID, liveSession, bool) {
	if f, ok := r.byHash[hash]; ok && r.changed[f].tokenHash == hash {
		return f, r.changed[f], true
	}
	f, live, ok := r.cache.current(hash)
	if _, changed := r.changed[f]; !ok || changed {
		return uuid.Nil, liveSession{}, false
	}
	return f, live, true
}

// retried finds the session whose current token's parent has this hash.
func (r *runSessions) retried(hash string) (uuid.UUID, liveSession, bool) {
	if hash == "" {
		return uuid.Nil, liveSession{}, false
	}
	if f, ok := r.byParent[hash]; ok && r.changed[f].parentHash == hash {
		return f, r.changed[f], true
	}
	f, live, ok := r.cache.childOf(hash)
	if _, changed := r.changed[f]; !ok || changed {
		return uuid.Nil, liveSession{}, false
	}
	return f, live, true
}

// staleToken decides about a presented token that is no live session's
// current token: unknown, revoked and expired tokens are invalid; a rotated
// one (it has a successor) is reuse, and its family is revoked.
func (s *Store) staleToken(t *Tx, r model.Rotation, now time.Time) (outcome, fault error) {
	var (
		id, family, user uuid.UUID
		status           string
		expiresAt        time.Time
	)
	err := t.queryRow(t.st.tokenByHash, r.OldHash).Scan(&id, &family, &user, &status, &expiresAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return rule(model.ErrTokenInvalid), nil
	case err != nil:
		return nil, fmt.Errorf("store: find refresh token: %w", err)
	case status != tokenActive || t.ended(family, user) || !now.Before(expiresAt):
		return rule(model.ErrTokenInvalid), nil
	}
	var successors int
	if err := t.queryRow(t.st.successorCount, id).Scan(&successors); err != nil {
		return nil, fmt.Errorf("store: find successor: %w", err)
	}
	if successors == 0 {
		// Active in the table yet not current in memory: only possible if the
		// cache and the table disagree. Refuse rather than guess.
		s.log.Error("refresh token is active in the database but not the current token of a live session", "family", family)
		return rule(model.ErrTokenInvalid), nil
	}
	return s.revokeReusedFamily(t, family, user, r.RequestID), nil
}

func (s *Store) revokeReusedFamily(t *Tx, family, user uuid.UUID, requestID string) error {
	if err := t.revokeFamily(family); err != nil {
		return err
	}
	err := t.audit(&model.Audit{Action: api.AuditFamilyRevoked, ActorID: user.String(), TargetID: family.String(),
		Detail: "a rotated refresh token was presented again; the session was revoked", RequestID: requestID})
	if err != nil {
		return err
	}
	return rule(model.ErrTokenReused)
}

// RevokeByToken ends the session of the refresh token with this hash
// (logout), whichever of its tokens it is. An unknown hash is not an error.
func (s *Store) RevokeByToken(ctx context.Context, hash string) error {
	return s.write(ctx, func(t *Tx) error {
		family, _, ok := s.sessions.current(hash)
		if !ok {
			var (
				id, user  uuid.UUID
				status    string
				expiresAt time.Time
			)
			err := t.queryRow(t.st.tokenByHash, hash).Scan(&id, &family, &user, &status, &expiresAt)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			} else if err != nil {
				return fmt.Errorf("store: find refresh token: %w", err)
			}
		}
		return t.revokeFamily(family)
	})
}

// RevokeSession ends one session of user; model.ErrNotFound if it is not one of
// the user's live sessions.
func (s *Store) RevokeSession(ctx context.Context, user, family uuid.UUID) error {
	if owner, ok := s.sessions.active(family, s.now()); !ok || owner != user {
		return model.ErrNotFound
	}
	return s.write(ctx, func(t *Tx) error {
		return t.revokeFamily(family)
	})
}

// RevokeOtherSessions ends every session of user but keep.
func (s *Store) RevokeOtherSessions(ctx context.Context, user, keep uuid.UUID) error {
	return s.write(ctx, func(t *Tx) error { return t.revokeUser(user, keep) })
}

// SessionActive reports whether session family is live, and whose it is. It
// reads memory only (this runs on every authenticated request), so it never
// fails; the error is for engines that must ask their database.
func (s *Store) SessionActive(_ context.Context, family uuid.UUID) (owner uuid.UUID, live bool, err error) {
	owner, live = s.sessions.active(family, s.now())
	return owner, live, nil
}

// Sessions lists the user's live sessions, most recently used first. It
// reads the session cache: the table holds every token ever issued, and
// sorting them out per request would grow with every refresh.
func (s *Store) Sessions(ctx context.Context, user uuid.UUID) ([]model.Session, error) {
	live := s.sessions.ofUser(user, s.now())
	out := make([]model.Session, 0, len(live))
	for family, l := range live {
		out = append(out, model.Session{ID: family, UserID: user, CreatedAt: l.born, LastUsedAt: l.lastUsed,
			ExpiresAt: l.expiresAt, UserAgent: l.userAgent, IP: l.ip, Short: l.short})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsedAt.After(out[j].LastUsedAt) })
	return out, ctx.Err()
}

// TokenCounts counts refresh tokens per state (active, rotated, revoked,
// expired).
func (s *Store) TokenCounts(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, "tokens", `SELECT CASE
			WHEN t.status = 'revoked' THEN 'revoked'
			WHEN t.expires_at <= ? THEN 'expired'
			WHEN r.parent_id IS NOT NULL THEN 'rotated'
			ELSE 'active' END AS state, count(*)
		FROM refresh_tokens t
		LEFT JOIN (SELECT DISTINCT parent_id FROM refresh_tokens WHERE parent_id IS NOT NULL) r ON r.parent_id = t.id
		GROUP BY state`, s.now())
}

// purgeBatch bounds one purge transaction: a DELETE costs 100–200 µs per
// indexed row here, and other writes wait while it runs.
const purgeBatch = 500

// PurgeTokens deletes revoked and expired refresh tokens in small batches
// and records one audit entry. It returns how many rows went.
func (s *Store) PurgeTokens(ctx context.Context, audit *model.Audit) (int, error) {
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

// loadSessions fills the session cache from the database at start-up: the
// newest token of every family, unless revoked or expired.
func (s *Store) loadSessions(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT t.family_id, t.user_id, t.expires_at, t.family_created_at, t.id, t.token_hash,
			t.created_at, t.user_agent, t.ip, coalesce(p.id, '00000000-0000-0000-0000-000000000000'::UUID), coalesce(p.token_hash, ''),
			coalesce(t.short_session, false)
		FROM refresh_tokens t LEFT JOIN refresh_tokens p ON p.id = t.parent_id
		WHERE t.status = 'active' AND t.expires_at > ?
		  AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_id = t.id)`, s.now())
	if err != nil {
		return fmt.Errorf("store: load sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var family uuid.UUID
		var live liveSession
		if err := rows.Scan(&family, &live.user, &live.expiresAt, &live.born, &live.tokenID, &live.tokenHash,
			&live.lastUsed, &live.userAgent, &live.ip, &live.parentID, &live.parentHash, &live.short); err != nil {
			return fmt.Errorf("store: load sessions: %w", err)
		}
		// The first rotation of the parent is not stored; the current
		// token's issue is when it happened, unless that was a retry.
		live.rotatedAt = live.lastUsed
		s.sessions.set(family, live)
	}
	return rows.Err()
}
