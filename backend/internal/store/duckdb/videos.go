package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

const videoColumns = "id, user_id, upstream_id, polling_url, status, model, prompt, params, error_message, cost, created_at, updated_at, polled_at"

func scanVideoJob(r rowScanner) (model.VideoJob, error) {
	var (
		j        model.VideoJob
		errMsg   sql.NullString
		cost     sql.NullFloat64
		polledAt sql.NullTime
	)
	err := r.Scan(&j.ID, &j.UserID, &j.UpstreamID, &j.PollingURL, &j.Status, &j.Model, &j.Prompt, &j.Params,
		&errMsg, &cost, &j.CreatedAt, &j.UpdatedAt, &polledAt)
	if errors.Is(err, sql.ErrNoRows) {
		return model.VideoJob{}, model.ErrNotFound
	}
	if err != nil {
		return model.VideoJob{}, fmt.Errorf("store: scan video job: %w", err)
	}
	j.Error = errMsg.String
	if cost.Valid {
		j.Cost = &cost.Float64
	}
	if polledAt.Valid {
		t := polledAt.Time.UTC()
		j.PolledAt = &t
	}
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	return j, nil
}

func costArg(c *float64) any {
	if c == nil {
		return nil
	}
	return *c
}

func timeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond)
}

// CreateVideoJob inserts a new job; a zero ID gets a fresh UUIDv7.
func (s *Store) CreateVideoJob(ctx context.Context, j *model.VideoJob) error {
	if j.ID == uuid.Nil {
		j.ID = uuid.Must(uuid.NewV7())
	}
	j.CreatedAt = j.CreatedAt.UTC().Truncate(time.Microsecond)
	j.UpdatedAt = j.UpdatedAt.UTC().Truncate(time.Microsecond)
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.conn.ExecContext(t.ctx, "INSERT INTO video_jobs ("+videoColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			j.ID, j.UserID, j.UpstreamID, j.PollingURL, j.Status, j.Model, j.Prompt, j.Params,
			nullable(j.Error), costArg(j.Cost), j.CreatedAt, j.UpdatedAt, timeArg(j.PolledAt)); err != nil {
			return fmt.Errorf("store: insert video job: %w", err)
		}
		return nil
	})
}

// model.VideoJob returns a job by id, or model.ErrNotFound.
func (s *Store) VideoJob(ctx context.Context, id uuid.UUID) (model.VideoJob, error) {
	return scanVideoJob(s.db.QueryRowContext(ctx, "SELECT "+videoColumns+" FROM video_jobs WHERE id = ?", id))
}

// VideoJobs returns a page of a user's jobs, newest first, and their total.
func (s *Store) VideoJobs(ctx context.Context, userID uuid.UUID, limit, offset int) ([]model.VideoJob, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM video_jobs WHERE user_id = ?", userID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count video jobs: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+videoColumns+
		" FROM video_jobs WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?", userID, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list video jobs: %w", err)
	}
	jobs, err := collectVideoJobs(rows)
	return jobs, total, err
}

// UnfinishedVideoJobs returns the jobs whose status is one of statuses (the
// non-terminal ones), oldest first, for the poller.
func (s *Store) UnfinishedVideoJobs(ctx context.Context, statuses ...string) ([]model.VideoJob, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	placeholders := "?"
	args := []any{statuses[0]}
	for _, st := range statuses[1:] {
		placeholders += ", ?"
		args = append(args, st) // bound, not literal: see countAdmins in statements.go
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+videoColumns+" FROM video_jobs WHERE status IN ("+placeholders+") ORDER BY created_at", args...)
	if err != nil {
		return nil, fmt.Errorf("store: list unfinished video jobs: %w", err)
	}
	return collectVideoJobs(rows)
}

func collectVideoJobs(rows *sql.Rows) ([]model.VideoJob, error) {
	defer rows.Close()
	var out []model.VideoJob
	for rows.Next() {
		j, err := scanVideoJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// UpdateVideoJob saves what a poll learned: status, error, cost and times.
// When the job carries a GenerationID and a cost, the cost also fills in the
// submission's usage record, in the same transaction.
func (s *Store) UpdateVideoJob(ctx context.Context, j model.VideoJob) error {
	return s.write(ctx, func(t *Tx) error {
		res, err := t.conn.ExecContext(t.ctx, `UPDATE video_jobs SET status = ?, error_message = ?, cost = ?,
			updated_at = ?, polled_at = ? WHERE id = ?`,
			j.Status, nullable(j.Error), costArg(j.Cost), j.UpdatedAt.UTC().Truncate(time.Microsecond), timeArg(j.PolledAt), j.ID)
		if err != nil {
			return fmt.Errorf("store: update video job: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return rule(model.ErrNotFound)
		}
		if j.GenerationID != "" && j.Cost != nil {
			return t.setUsageCost(j.GenerationID, *j.Cost)
		}
		return nil
	})
}
