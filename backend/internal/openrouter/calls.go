package openrouter

import (
	"context"
	"encoding/json"
	"errors"
	"hash"
	"net/http"
	"net/url"
)

// ListModels returns every model (GET /models?output_modalities=all): text,
// image and others. Video models are only in ListVideoModels.
func (c *Client) ListModels(ctx context.Context) ([]Model, error) {
	var out struct {
		Data []Model `json:"data"`
	}
	err := c.call(ctx, "list models", http.MethodGet,
		c.endpoint(url.Values{"output_modalities": {"all"}}, "models"), nil, &out)
	return out.Data, err
}

// ListVideoModels returns the video models with their allowed durations,
// resolutions and aspect ratios (GET /videos/models).
func (c *Client) ListVideoModels(ctx context.Context) ([]VideoModel, error) {
	var out struct {
		Data []VideoModel `json:"data"`
	}
	err := c.call(ctx, "list video models", http.MethodGet, c.endpoint(nil, "videos", "models"), nil, &out)
	return out.Data, err
}

// ListImageModels returns the models of the dedicated image endpoint
// (GET /images/models).
func (c *Client) ListImageModels(ctx context.Context) ([]ImageModel, error) {
	var out struct {
		Data []ImageModel `json:"data"`
	}
	err := c.call(ctx, "list image models", http.MethodGet, c.endpoint(nil, "images", "models"), nil, &out)
	return out.Data, err
}

// chatWire is a ChatRequest as sent: with the hashed user and stream flag.
type chatWire struct {
	ChatRequest
	User   string `json:"user"`
	Stream bool   `json:"stream,omitempty"`
}

func (c *Client) chatWire(req ChatRequest, stream bool) (chatWire, error) {
	if req.UserID == "" {
		return chatWire{}, errors.New("openrouter: chat request without a user id")
	}
	return chatWire{ChatRequest: req, User: c.HashUser(req.UserID), Stream: stream}, nil
}

// ChatCompletion sends a non-streaming chat completion.
func (c *Client) ChatCompletion(ctx context.Context, req ChatRequest) (*ChatCompletion, error) {
	wire, err := c.chatWire(req, false)
	if err != nil {
		return nil, err
	}
	var out chatCompletionAnswer
	if err := c.call(ctx, "chat completion", http.MethodPost, c.chatURL, wire, &out); err != nil {
		return nil, err
	}
	if len(out.Choices) == 0 {
		return nil, c.malformed("chat completion", errors.New("answer without choices"))
	}
	return &out.ChatCompletion, nil
}

// chatCompletionAnswer is a chat completion with the "error" member that
// OpenRouter may put in a 200 answer, read in the same pass.
type chatCompletionAnswer struct {
	ChatCompletion
	Error json.RawMessage `json:"error"`
}

func (a *chatCompletionAnswer) errorMember() json.RawMessage { return a.Error }

// CreateImage generates images with POST /images.
func (c *Client) CreateImage(ctx context.Context, req ImageRequest) (*ImageResult, error) {
	var out ImageResult
	if err := c.call(ctx, "create image", http.MethodPost, c.endpoint(nil, "images"), req, &out); err != nil {
		return nil, err
	}
	if len(out.Data) == 0 {
		return nil, c.malformed("create image", errors.New("answer without images"))
	}
	return &out, nil
}

// videoWire is the body of POST /videos.
type videoWire struct {
	Model       string       `json:"model"`
	Prompt      string       `json:"prompt,omitempty"`
	Duration    *int         `json:"duration,omitempty"`
	Resolution  string       `json:"resolution,omitempty"`
	AspectRatio string       `json:"aspect_ratio,omitempty"`
	FrameImages []frameImage `json:"frame_images,omitempty"`
}

// frameImage is the spec's FrameImage: an image_url content part with a
// frame_type.
type frameImage struct {
	Type      string `json:"type"`
	FrameType string `json:"frame_type"`
	ImageURL  struct {
		URL string `json:"url"`
	} `json:"image_url"`
}

// SubmitVideo starts a video job (POST /videos); poll it with GetVideo.
func (c *Client) SubmitVideo(ctx context.Context, req VideoRequest) (*VideoJob, error) {
	wire := videoWire{Model: req.Model, Prompt: req.Prompt, Duration: req.Duration,
		Resolution: req.Resolution, AspectRatio: req.AspectRatio}
	if req.FirstFrameURL != "" {
		frame := frameImage{Type: "image_url", FrameType: "first_frame"}
		frame.ImageURL.URL = req.FirstFrameURL
		wire.FrameImages = []frameImage{frame}
	}
	return c.videoJob(ctx, "submit video", http.MethodPost, c.endpoint(nil, "videos"), wire)
}

// GetVideo polls a video job by id (GET /videos/{id} under the base URL).
func (c *Client) GetVideo(ctx context.Context, jobID string) (*VideoJob, error) {
	return c.videoJob(ctx, "poll video", http.MethodGet, c.endpoint(nil, "videos", jobID), nil)
}

// PollVideo polls a job through the polling_url upstream gave, relative
// ("/api/v1/videos/job-1", resolved against the base URL) or absolute. The
// key goes along only when the URL is on the base URL's origin.
func (c *Client) PollVideo(ctx context.Context, pollingURL string) (*VideoJob, error) {
	if c.configErr != nil {
		return nil, c.misconfigured("poll video")
	}
	target, err := c.resolve(pollingURL)
	if err != nil {
		return nil, c.malformed("poll video", err)
	}
	return c.videoJob(ctx, "poll video", http.MethodGet, target.String(), nil)
}

func (c *Client) videoJob(ctx context.Context, op, method, target string, in any) (*VideoJob, error) {
	var job VideoJob
	if err := c.call(ctx, op, method, target, in, &job); err != nil {
		return nil, err
	}
	if job.ID == "" || job.Status == "" {
		return nil, c.malformed(op, errors.New("video job without id or status"))
	}
	if job.PollingURL != "" {
		if abs, err := c.resolve(job.PollingURL); err == nil {
			job.PollingURL = abs.String()
		}
	}
	return &job, nil
}

// HashUser is the stable pseudonym of one of our user ids sent as
// OpenRouter's `user`: hex HMAC-SHA256 keyed with Config.UserSalt, 32 chars.
func (c *Client) HashUser(userID string) string {
	mac := c.userMACs.Get().(hash.Hash)
	defer c.userMACs.Put(mac)
	mac.Reset()
	return userHash(mac, userID)
}
