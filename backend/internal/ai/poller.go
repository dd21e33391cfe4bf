package ai

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/duckgate/duckgate/backend/internal/background"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/openrouter"
	"github.com/duckgate/duckgate/shared/api"
)

// videoPoller keeps unfinished video jobs in step with upstream. Clients
// polling GET /generate/video/{id} and the background loop share one path:
// concurrent refreshes of a job collapse into one upstream poll
// (singleflight), and a job is polled at most once per MinPollInterval
// however often it is asked for. The loop scans the unfinished jobs in the
// database, so jobs submitted before a restart resume being polled.
type videoPoller struct {
	s     *Service
	group singleflight.Group

	mu       sync.Mutex
	lastPoll map[uuid.UUID]time.Time

	stopLoop func()
	once     sync.Once
}

// PollerJob names the background loop among the replicas' jobs: one
// replica at a time leads it (see package background).
const PollerJob = "video-poller"

func newVideoPoller(s *Service) *videoPoller {
	return &videoPoller{s: s, lastPoll: map[uuid.UUID]time.Time{}}
}

// start runs the loop whenever runner's leader gives this process the job.
func (p *videoPoller) start(runner *background.Runner) {
	p.stopLoop = runner.Start(PollerJob, func(ctx context.Context) { p.loop(ctx, runner) })
}

// stop ends the loop and waits for a poll in progress to finish.
func (p *videoPoller) stop() {
	p.once.Do(func() {
		if p.stopLoop != nil {
			p.stopLoop()
		}
	})
}

// loop scans until ctx ends: leadership lost, or the service closing.
func (p *videoPoller) loop(ctx context.Context, runner *background.Runner) {
	ticker := time.NewTicker(p.s.opts.PollerInterval)
	defer ticker.Stop()
	for {
		runner.Counted(PollerJob)
		p.scan(ctx)
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}

// scan refreshes every unfinished job (oldest first) until ctx ends.
func (p *videoPoller) scan(ctx context.Context) {
	jobs, err := p.s.store.UnfinishedVideoJobs(ctx, api.VideoPending, api.VideoInProgress)
	if err != nil {
		if ctx.Err() == nil {
			p.s.log.Warn("video poller: listing unfinished jobs failed", "err", err)
		}
		return
	}
	for _, job := range jobs {
		if ctx.Err() != nil {
			return
		}
		p.refresh(ctx, job)
	}
}

// refresh returns job as upstream now sees it, or as it is when the job is
// finished, was polled too recently, or the poll failed.
func (p *videoPoller) refresh(ctx context.Context, job model.VideoJob) model.VideoJob {
	if api.IsTerminal(job.Status) || !p.due(job.ID) {
		return job
	}
	ch := p.group.DoChan(job.ID.String(), func() (any, error) {
		return p.poll(context.WithoutCancel(ctx), job), nil
	})
	select {
	case res := <-ch:
		return res.Val.(model.VideoJob)
	case <-ctx.Done():
		return job
	}
}

// due reports whether job may be polled now, and if so claims the slot.
func (p *videoPoller) due(id uuid.UUID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.s.now()
	if last, ok := p.lastPoll[id]; ok && now.Sub(last) < p.s.opts.MinPollInterval {
		return false
	}
	p.lastPoll[id] = now
	return true
}

// poll asks upstream once and saves what changed.
func (p *videoPoller) poll(ctx context.Context, job model.VideoJob) model.VideoJob {
	up, err := p.ask(ctx, job)
	now := p.s.now()
	updated := job
	updated.PolledAt = &now
	switch {
	case err == nil:
		updated.Status, updated.Error, updated.GenerationID = jobStatus(up.Status), up.Error, generationOf(up)
		if up.Usage != nil && up.Usage.Cost != nil {
			updated.Cost = up.Usage.Cost
		}
	case upstreamLost(err):
		updated.Status, updated.Error = api.VideoExpired, "the AI provider no longer knows this job"
	default:
		p.s.log.Warn("video poll failed; will retry", "job", job.ID, "upstream_id", job.UpstreamID, "err", err)
		return job
	}
	if updated.Status != job.Status || updated.Error != job.Error || !sameCost(updated.Cost, job.Cost) {
		updated.UpdatedAt = now
	}
	if updated.Cost != nil && job.Cost == nil {
		// The cost goes into the submission's usage record too: a record
		// whose first write failed may still wait for its retry.
		p.s.recorder.Flush(ctx)
	}
	if err := p.s.store.UpdateVideoJob(ctx, updated); err != nil {
		p.s.log.Error("saving a polled video job failed", "job", job.ID, "err", err)
		return job
	}
	if api.IsTerminal(updated.Status) {
		p.mu.Lock()
		delete(p.lastPoll, job.ID)
		p.mu.Unlock()
	}
	return updated
}

func (p *videoPoller) ask(ctx context.Context, job model.VideoJob) (*openrouter.VideoJob, error) {
	if job.PollingURL != "" {
		// Relative polling URLs resolve against the configured base; the key
		// goes only to the configured origin (the client sees to both).
		return p.s.client.PollVideo(ctx, job.PollingURL)
	}
	return p.s.client.GetVideo(ctx, job.UpstreamID)
}

// upstreamLost reports an upstream 404 for the job: it will never finish.
func upstreamLost(err error) bool {
	var oe *openrouter.Error
	return errors.As(err, &oe) && oe.StatusCode == http.StatusNotFound
}

func sameCost(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
