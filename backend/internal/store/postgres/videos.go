package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
)

const videoColumns = "id, user_id, upstream_id, polling_url, status, model, prompt, params, error_message, cost, created_at, updated_at, polled_at"

func scanVideoJob(r pgx.Row) (model.VideoJob, error) {
	var (
		j        model.VideoJob
		errMsg   *string
		polledAt *time.Time
	)
	err := r.Scan(&j.ID, &j.UserID, &j.UpstreamID, &j.PollingURL, &j.Status, &j.Model, &j.Prompt, &j.Params,
		&errMsg, &j.Cost, &j.CreatedAt, &j.UpdatedAt, &polledAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.VideoJob{}, model.ErrNotFound
	}
	if err != nil {
		return model.VideoJob{}, fmt.Errorf("store: scan video job: %w", err)
	}
	j.Error = text(errMsg)
	if polledAt != nil {
		t := polledAt.UTC()
		j.PolledAt = &t
	}
	j.CreatedAt, j.UpdatedAt = utc(j.CreatedAt), utc(j.UpdatedAt)
	return j, nil
}

func timeArg(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	m := micro(*t)
	return &m
}

// CreateVideoJob inserts a new job; a zero ID gets a fresh UUIDv7.
func (s *Store) CreateVideoJob(ctx context.Context, j *model.VideoJob) error {
	if j.ID == uuid.Nil {
		j.ID = uuid.Must(uuid.NewV7())
	}
	j.CreatedAt, j.UpdatedAt = micro(j.CreatedAt), micro(j.UpdatedAt)
	if _, err := s.pool.Exec(ctx, "INSERT INTO video_jobs ("+videoColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
		j.ID, j.UserID, clean(j.UpstreamID), clean(j.PollingURL), clean(j.Status), clean(j.Model), clean(j.Prompt), clean(j.Params),
		nullable(j.Error), j.Cost, j.CreatedAt, j.UpdatedAt, timeArg(j.PolledAt)); err != nil {
		return fmt.Errorf("store: insert video job: %w", err)
	}
	return nil
}

// VideoJob returns a job by id, or model.ErrNotFound.
func (s *Store) VideoJob(ctx context.Context, id uuid.UUID) (model.VideoJob, error) {
	return scanVideoJob(s.pool.QueryRow(ctx, "SELECT "+videoColumns+" FROM video_jobs WHERE id = $1", id))
}

// VideoJobs returns a page of a user's jobs, newest first, and their total.
func (s *Store) VideoJobs(ctx context.Context, userID uuid.UUID, limit, offset int) ([]model.VideoJob, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM video_jobs WHERE user_id = $1", userID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count video jobs: %w", err)
	}
	rows, err := s.pool.Query(ctx, "SELECT "+videoColumns+
		" FROM video_jobs WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3", userID, limit, offset)
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
	rows, err := s.pool.Query(ctx, "SELECT "+videoColumns+" FROM video_jobs WHERE status = ANY($1) ORDER BY created_at, id", statuses)
	if err != nil {
		return nil, fmt.Errorf("store: list unfinished video jobs: %w", err)
	}
	return collectVideoJobs(rows)
}

func collectVideoJobs(rows pgx.Rows) ([]model.VideoJob, error) {
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
	return s.inTx(ctx, func(t *tx) error {
		tag, err := t.exec(`UPDATE video_jobs SET status = $1, error_message = $2, cost = $3, updated_at = $4, polled_at = $5 WHERE id = $6`,
			clean(j.Status), nullable(j.Error), j.Cost, micro(j.UpdatedAt), timeArg(j.PolledAt), j.ID)
		if err != nil {
			return fmt.Errorf("store: update video job: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return model.ErrNotFound
		}
		if j.GenerationID != "" && j.Cost != nil {
			if _, err := t.exec("UPDATE ai_usage SET cost = $1 WHERE generation_id = $2 AND cost IS NULL", *j.Cost, clean(j.GenerationID)); err != nil {
				return fmt.Errorf("store: set usage cost: %w", err)
			}
		}
		return nil
	})
}
