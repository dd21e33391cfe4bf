package model

import (
	"time"

	"github.com/google/uuid"
)

// VideoJob is an asynchronous video generation, mirrored from upstream.
type VideoJob struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	UpstreamID string
	PollingURL string
	Status     string // one of api.Video*
	Model      string
	Prompt     string
	Params     string // JSON of the generation parameters
	Error      string
	Cost       *float64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	PolledAt   *time.Time
	// GenerationID ties the job to its usage record, whose cost is filled in
	// when the job reports one. Not stored with the job.
	GenerationID string
}
