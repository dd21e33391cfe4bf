package ai

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Handler serves /ai/* and /generate/*.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Models lists the available models (GET /ai/models).
func (h *Handler) Models(c *gin.Context) {
	modality := c.Query("modality")
	switch modality {
	case "", api.ModalityText, api.ModalityImage, api.ModalityVideo:
	default:
		httpx.Abort(c, model.Invalid(model.Field("modality", "must be text, image or video")))
		return
	}
	list, err := h.svc.Models(c.Request.Context(), modality)
	httpx.Respond(c, http.StatusOK, list, err)
}

// Chat answers a conversation, whole or streamed (POST /ai/chat).
func (h *Handler) Chat(c *gin.Context) {
	var in api.ChatRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	userID := auth.PrincipalOf(c).UserID
	if !in.Stream {
		out, err := h.svc.Chat(c.Request.Context(), userID, in)
		httpx.Respond(c, http.StatusOK, out, err)
		return
	}
	if err := h.svc.StreamChat(c.Request.Context(), userID, in, httpx.EventWriter(c), nil); err != nil {
		httpx.Abort(c, err)
	}
}

// Text completes a prompt (POST /generate/text).
func (h *Handler) Text(c *gin.Context) {
	var in api.TextRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	out, err := h.svc.GenerateText(c.Request.Context(), auth.PrincipalOf(c).UserID, in)
	httpx.Respond(c, http.StatusOK, out, err)
}

// Image generates images (POST /generate/image).
func (h *Handler) Image(c *gin.Context) {
	var in api.ImageRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	out, err := h.svc.GenerateImage(c.Request.Context(), auth.PrincipalOf(c).UserID, in)
	httpx.Respond(c, http.StatusOK, out, err)
}

// Video starts a video job (POST /generate/video).
func (h *Handler) Video(c *gin.Context) {
	var in api.VideoRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	job, err := h.svc.SubmitVideo(c.Request.Context(), auth.PrincipalOf(c).UserID, in)
	httpx.Respond(c, http.StatusAccepted, job, err)
}

// VideoFromImage starts a video job from an image (POST /generate/video/from-image).
func (h *Handler) VideoFromImage(c *gin.Context) {
	var in api.VideoFromImageRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	job, err := h.svc.SubmitVideoFromImage(c.Request.Context(), auth.PrincipalOf(c).UserID, in)
	httpx.Respond(c, http.StatusAccepted, job, err)
}

// VideoJobs lists the caller's jobs (GET /generate/video).
func (h *Handler) VideoJobs(c *gin.Context) {
	limit, offset, err := httpx.Paging(c, 50, 200)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	list, err := h.svc.VideoJobs(c.Request.Context(), auth.PrincipalOf(c).UserID, limit, offset)
	httpx.Respond(c, http.StatusOK, list, err)
}

// VideoJob answers one job (GET /generate/video/{id}).
func (h *Handler) VideoJob(c *gin.Context) {
	job, err := h.svc.VideoJob(c.Request.Context(), callerOf(c), c.Param("id"))
	httpx.Respond(c, http.StatusOK, job, err)
}

// VideoContent streams the MP4 from upstream to the client as it arrives,
// never holding the whole file: a fixed buffer, flushed every half second.
func (h *Handler) VideoContent(c *gin.Context) {
	content, err := h.svc.VideoContent(c.Request.Context(), callerOf(c), c.Param("id"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	defer content.Body.Close()
	header := c.Writer.Header()
	header.Set("Content-Type", content.ContentType)
	header.Set("Content-Disposition", `inline; filename="`+c.Param("id")+`.mp4"`)
	header.Set("Cache-Control", "private, max-age=3600")
	if content.ContentLength >= 0 {
		header.Set("Content-Length", strconv.FormatInt(content.ContentLength, 10))
	}
	c.Writer.WriteHeader(http.StatusOK)
	if err := copyFlushing(c.Writer, content.Body); err != nil {
		// The status is sent; the cut body is all the client can learn.
		_ = c.Error(err)
	}
}

// copyFlushing copies src to w, flushing at least every half second so a
// slow upstream still reaches the client steadily.
func copyFlushing(w gin.ResponseWriter, src io.Reader) error {
	buf := make([]byte, 32<<10)
	lastFlush := time.Now()
	for {
		n, readErr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if time.Since(lastFlush) > 500*time.Millisecond {
				w.Flush()
				lastFlush = time.Now()
			}
		}
		if errors.Is(readErr, io.EOF) {
			w.Flush()
			return nil
		}
		if readErr != nil {
			return readErr
		}
	}
}

func callerOf(c *gin.Context) Caller {
	p := auth.PrincipalOf(c)
	return Caller{UserID: p.UserID, IsAdmin: p.IsAdmin()}
}

// Images lists the caller's kept images (GET /generate/image).
func (h *Handler) Images(c *gin.Context) {
	limit, offset, err := httpx.Paging(c, 50, 200)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	list, err := h.svc.Images(c.Request.Context(), auth.PrincipalOf(c).UserID, limit, offset)
	httpx.Respond(c, http.StatusOK, list, err)
}

// ImageContent serves a kept image's bytes (GET /generate/image/{id}/content).
func (h *Handler) ImageContent(c *gin.Context) {
	img, err := h.svc.Image(c.Request.Context(), callerOf(c), c.Param("id"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Header("Cache-Control", "private, max-age=31536000, immutable") // an id never changes its bytes
	c.Header("Content-Disposition", `inline; filename="`+img.ID.String()+extensionOf(img.MediaType)+`"`)
	c.Data(http.StatusOK, img.MediaType, img.Content)
}

// DeleteImage deletes a kept image (DELETE /generate/image/{id}).
func (h *Handler) DeleteImage(c *gin.Context) {
	if err := h.svc.DeleteImage(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Param("id")); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func extensionOf(mediaType string) string {
	switch mediaType {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	}
	return ""
}
