package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/duckgate/duckgate/shared/api"
)

// Models lists the models available upstream (GET /ai/models), only those
// producing modality (api.ModalityText, ModalityImage, ModalityVideo) when it
// is not empty.
func (c *Client) Models(ctx context.Context, modality string) (*api.ModelList, error) {
	q := url.Values{}
	setIfNotEmpty(q, "modality", modality)
	var out api.ModelList
	if err := c.doJSON(ctx, http.MethodGet, "/ai/models", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Chat sends a conversation and waits for the whole answer (POST /ai/chat).
// It always asks for a non-streaming answer, whatever in.Stream says; use
// ChatStream to receive the answer as it is written.
func (c *Client) Chat(ctx context.Context, in api.ChatRequest) (*api.ChatResponse, error) {
	in.Stream = false
	var out api.ChatResponse
	if err := c.doJSON(ctx, http.MethodPost, "/ai/chat", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GenerateText completes a prompt (POST /generate/text).
func (c *Client) GenerateText(ctx context.Context, in api.TextRequest) (*api.TextResponse, error) {
	var out api.TextResponse
	if err := c.doJSON(ctx, http.MethodPost, "/generate/text", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GenerateImage generates images from a prompt (POST /generate/image). Image
// URLs may be data: URLs of several MiB.
func (c *Client) GenerateImage(ctx context.Context, in api.ImageRequest) (*api.ImageResponse, error) {
	var out api.ImageResponse
	if err := c.doJSON(ctx, http.MethodPost, "/generate/image", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GenerateVideo submits a video job (POST /generate/video); poll it with
// VideoJob until api.IsTerminal(job.Status).
func (c *Client) GenerateVideo(ctx context.Context, in api.VideoRequest) (*api.VideoJob, error) {
	var out api.VideoJob
	if err := c.doJSON(ctx, http.MethodPost, "/generate/video", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GenerateVideoFromImage submits a video job that animates an image
// (POST /generate/video/from-image).
func (c *Client) GenerateVideoFromImage(ctx context.Context, in api.VideoFromImageRequest) (*api.VideoJob, error) {
	var out api.VideoJob
	if err := c.doJSON(ctx, http.MethodPost, "/generate/video/from-image", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VideoJobs lists the caller's video jobs, newest first
// (GET /generate/video); zero limit or offset leave the backend's defaults.
func (c *Client) VideoJobs(ctx context.Context, limit, offset int) (*api.VideoJobList, error) {
	var out api.VideoJobList
	if err := c.doJSON(ctx, http.MethodGet, "/generate/video", pageValues(limit, offset), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VideoJob returns one video job (GET /generate/video/{id}).
func (c *Client) VideoJob(ctx context.Context, id string) (*api.VideoJob, error) {
	var out api.VideoJob
	if err := c.doJSON(ctx, http.MethodGet, pathf("/generate/video/%s", id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VideoContent streams the video of a completed job
// (GET /generate/video/{id}/content). The caller reads and closes body; the
// bytes are not buffered, so copy them straight to their destination.
// contentType is the answer's Content-Type (video/mp4).
func (c *Client) VideoContent(ctx context.Context, id string) (body io.ReadCloser, contentType string, err error) {
	r := request{method: http.MethodGet, path: pathf("/generate/video/%s/content", id), accept: "video/*, " + api.ProblemContentType}
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, "", err
	}
	return resp.Body, resp.Header.Get("Content-Type"), nil
}
