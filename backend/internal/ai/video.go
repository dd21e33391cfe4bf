package ai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/openrouter"
	"github.com/duckgate/duckgate/shared/api"
)

// Caller is who asks for a video job: owners and admins may read it.
type Caller struct {
	UserID  uuid.UUID
	IsAdmin bool
}

// videoParams is what a job was asked for, kept as JSON beside it.
type videoParams struct {
	Duration    *int   `json:"duration,omitempty"`
	Resolution  string `json:"resolution,omitempty"`
	AspectRatio string `json:"aspect_ratio,omitempty"`
	// FirstFrame is the https URL of the start image, or a note of the
	// data: image's type and size (the bytes themselves are not kept).
	FirstFrame string `json:"first_frame,omitempty"`
}

// SubmitVideo starts a video job (text to video).
func (s *Service) SubmitVideo(ctx context.Context, userID uuid.UUID, in api.VideoRequest) (api.VideoJob, error) {
	return s.submitVideo(ctx, userID, in, "", false)
}

// SubmitVideoFromImage starts a video job that animates an image.
func (s *Service) SubmitVideoFromImage(ctx context.Context, userID uuid.UUID, in api.VideoFromImageRequest) (api.VideoJob, error) {
	return s.submitVideo(ctx, userID, in.VideoRequest, in.ImageURL, true)
}

func (s *Service) submitVideo(ctx context.Context, userID uuid.UUID, in api.VideoRequest, imageURL string, fromImage bool) (api.VideoJob, error) {
	var fields []model.FieldError
	if strings.TrimSpace(in.Prompt) == "" && !fromImage {
		fields = append(fields, model.Field("prompt", "must not be empty"))
	} else if len(in.Prompt) > MaxConversationBytes {
		fields = append(fields, model.Field("prompt", fmt.Sprintf("may hold at most %d bytes", MaxConversationBytes)))
	}
	if fromImage {
		if msg := checkImageURL(imageURL, s.opts.MaxImageBytes); msg != "" {
			fields = append(fields, model.Field("image_url", msg))
		}
	}
	fields = append(fields, checkModelID(in.Model)...)
	if err := s.configuredAndValid(fields); err != nil {
		return api.VideoJob{}, err
	}
	modelID := modelOr(in.Model, s.opts.DefaultVideoModel)
	if err := s.checkVideoParams(ctx, modelID, in, fromImage); err != nil {
		return api.VideoJob{}, err
	}

	c, err := s.beginCall(ctx, userID, model.KindVideo, modelID, s.videoEstimate(ctx, modelID))
	if err != nil {
		return api.VideoJob{}, err
	}
	up, err := s.client.SubmitVideo(ctx, openrouter.VideoRequest{Model: modelID, Prompt: in.Prompt, Duration: in.Duration,
		Resolution: in.Resolution, AspectRatio: in.AspectRatio, FirstFrameURL: imageURL})
	if err != nil {
		c.finish(ctx, err, nil, "")
		return api.VideoJob{}, err
	}
	c.finish(ctx, nil, videoUsage(up), generationOf(up))

	params, _ := json.Marshal(videoParams{Duration: in.Duration, Resolution: in.Resolution, AspectRatio: in.AspectRatio,
		FirstFrame: describeImage(imageURL)})
	now := s.now()
	job := &model.VideoJob{UserID: userID, UpstreamID: up.ID, PollingURL: up.PollingURL, Status: jobStatus(up.Status),
		Model: modelID, Prompt: in.Prompt, Params: string(params), Error: up.Error, CreatedAt: now, UpdatedAt: now}
	// Upstream accepted (and will bill) the job: keep it even if our client left.
	if err := s.store.CreateVideoJob(context.WithoutCancel(ctx), job); err != nil {
		return api.VideoJob{}, fmt.Errorf("ai: save video job %s: %w", up.ID, err)
	}
	return toVideoJob(*job), nil
}

// checkVideoParams validates against the model's published capabilities.
func (s *Service) checkVideoParams(ctx context.Context, modelID string, in api.VideoRequest, fromImage bool) error {
	cat, err := s.models.get(ctx)
	if err != nil {
		return err
	}
	m, ok := cat.videoModel(modelID)
	if !ok {
		return model.Invalid(model.Field("model",
			fmt.Sprintf("%s is not a video model; video models: %s", modelID, strings.Join(cat.videoModelIDs(), ", "))))
	}
	var fields []model.FieldError
	if in.Duration != nil && len(m.SupportedDurations) > 0 && !slices.Contains(m.SupportedDurations, *in.Duration) {
		fields = append(fields, model.Field("duration", fmt.Sprintf("%d is not offered by %s; allowed values: %s",
			*in.Duration, modelID, joinInts(m.SupportedDurations))))
	}
	if in.Duration != nil && *in.Duration < 1 {
		fields = append(fields, model.Field("duration", "must be at least 1 second"))
	}
	if in.Resolution != "" && len(m.SupportedResolutions) > 0 && !slices.Contains(m.SupportedResolutions, in.Resolution) {
		fields = append(fields, model.Field("resolution", fmt.Sprintf("%q is not offered by %s; allowed values: %s",
			in.Resolution, modelID, strings.Join(m.SupportedResolutions, ", "))))
	}
	if in.AspectRatio != "" && len(m.SupportedAspectRatios) > 0 && !slices.Contains(m.SupportedAspectRatios, in.AspectRatio) {
		fields = append(fields, model.Field("aspect_ratio", fmt.Sprintf("%q is not offered by %s; allowed values: %s",
			in.AspectRatio, modelID, strings.Join(m.SupportedAspectRatios, ", "))))
	}
	if fromImage && len(m.SupportedFrameImages) > 0 && !slices.Contains(m.SupportedFrameImages, "first_frame") {
		fields = append(fields, model.Field("model", modelID+" cannot start a video from an image"))
	}
	if len(fields) > 0 {
		return model.Invalid(fields...)
	}
	return nil
}

// VideoJob returns a job the caller may read, refreshed from upstream when it
// is not finished (at most once per MinPollInterval per job).
func (s *Service) VideoJob(ctx context.Context, caller Caller, id string) (api.VideoJob, error) {
	if err := s.configured(); err != nil {
		return api.VideoJob{}, err
	}
	job, err := s.readableJob(ctx, caller, id)
	if err != nil {
		return api.VideoJob{}, err
	}
	return toVideoJob(s.videos.refresh(ctx, job)), nil
}

// VideoJobs lists the caller's own jobs, newest first.
func (s *Service) VideoJobs(ctx context.Context, userID uuid.UUID, limit, offset int) (api.VideoJobList, error) {
	if err := s.configured(); err != nil {
		return api.VideoJobList{}, err
	}
	jobs, total, err := s.store.VideoJobs(ctx, userID, limit, offset)
	if err != nil {
		return api.VideoJobList{}, fmt.Errorf("ai: list video jobs: %w", err)
	}
	out := api.VideoJobList{Items: make([]api.VideoJob, 0, len(jobs)), Total: total}
	for _, j := range jobs {
		out.Items = append(out.Items, toVideoJob(j))
	}
	return out, nil
}

// VideoContent opens the MP4 of a completed job, streamed from upstream.
// The caller copies and closes it.
func (s *Service) VideoContent(ctx context.Context, caller Caller, id string) (*openrouter.VideoContent, error) {
	if err := s.configured(); err != nil {
		return nil, err
	}
	job, err := s.readableJob(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	job = s.videos.refresh(ctx, job)
	if job.Status != api.VideoCompleted {
		return nil, &model.VideoNotReadyError{Status: job.Status}
	}
	content, err := s.client.VideoContent(ctx, job.UpstreamID, 0)
	if err != nil {
		return nil, err
	}
	return content, nil
}

// readableJob loads a job the caller owns (any job for admins); anything
// else is the same 404, so ids of others' jobs reveal nothing.
func (s *Service) readableJob(ctx context.Context, caller Caller, id string) (model.VideoJob, error) {
	jobID, err := uuid.Parse(id)
	if err != nil {
		return model.VideoJob{}, model.ErrVideoJobNotFound
	}
	job, err := s.store.VideoJob(ctx, jobID)
	if errors.Is(err, model.ErrNotFound) {
		return model.VideoJob{}, model.ErrVideoJobNotFound
	}
	if err != nil {
		return model.VideoJob{}, fmt.Errorf("ai: read video job: %w", err)
	}
	if job.UserID != caller.UserID && !caller.IsAdmin {
		return model.VideoJob{}, model.ErrVideoJobNotFound
	}
	return job, nil
}

func toVideoJob(j model.VideoJob) api.VideoJob {
	out := api.VideoJob{ID: j.ID.String(), Status: j.Status, Model: j.Model, Prompt: j.Prompt,
		CreatedAt: j.CreatedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC(), Error: j.Error, Cost: j.Cost}
	if j.Status == api.VideoCompleted {
		out.ContentURL = "/generate/video/" + j.ID.String() + "/content"
	}
	return out
}

// jobStatus maps upstream's status to ours; an unknown one counts as still
// in progress, so the job goes on being polled.
func jobStatus(upstream string) string {
	switch upstream {
	case api.VideoPending, api.VideoInProgress, api.VideoCompleted, api.VideoFailed, api.VideoCancelled, api.VideoExpired:
		return upstream
	}
	return api.VideoInProgress
}

func generationOf(j *openrouter.VideoJob) string {
	if j.GenerationID != "" {
		return j.GenerationID
	}
	return j.ID
}

func videoUsage(j *openrouter.VideoJob) *openrouter.Usage {
	if j.Usage == nil || j.Usage.Cost == nil {
		return nil
	}
	return &openrouter.Usage{Cost: j.Usage.Cost}
}

func describeImage(imageURL string) string {
	if header, payload, ok := strings.Cut(imageURL, ","); ok && strings.HasPrefix(strings.ToLower(imageURL), "data:") {
		return fmt.Sprintf("%s (%d base64 bytes)", header, len(payload))
	}
	return imageURL
}

func joinInts(values []int) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ", ")
}
