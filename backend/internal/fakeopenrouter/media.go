package fakeopenrouter

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sampleMP4 is a real 1.5 s, 64x64, H.264 (constrained baseline, yuv420p,
// faststart) MP4 made once with:
//
//	ffmpeg -f lavfi -i testsrc2=size=64x64:rate=12 -t 1.5 -c:v libx264 \
//	  -profile:v baseline -level 3.0 -pix_fmt yuv420p -movflags +faststart -an sample.mp4
//
//go:embed assets/sample.mp4
var sampleMP4 []byte

// samplePNG is a small real PNG: a 16x16 duck-yellow square with a border.
func samplePNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			c := color.RGBA{R: 0xf5, G: 0xc5, B: 0x18, A: 0xff}
			if x == 0 || y == 0 || x == 15 || y == 15 {
				c = color.RGBA{R: 0x1f, G: 0x2a, B: 0x44, A: 0xff}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(fmt.Sprintf("fakeopenrouter: encode sample PNG: %v", err)) // cannot happen with an in-memory image
	}
	return buf.Bytes()
}

// SamplePNG returns the PNG every generated image is.
func (s *Server) SamplePNG() []byte { return slices.Clone(s.png) }

// SampleMP4 returns the MP4 every finished video is.
func SampleMP4() []byte { return slices.Clone(sampleMP4) }

func (s *Server) listImageModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": imageModels(defaultModels())})
}

type imageRequest struct {
	Model  string `json:"model"`
	Prompt string `json:"prompt"`
	N      int    `json:"n"`
}

func (s *Server) createImage(w http.ResponseWriter, r *http.Request) {
	var req imageRequest
	if !decodeBody(w, r, &req) {
		return
	}
	m, ok := s.findModel(req.Model)
	switch {
	case req.Prompt == "":
		writeError(w, http.StatusBadRequest, "prompt: must not be empty")
		return
	case !ok || !slices.Contains(m.Architecture.OutputModalities, "image"):
		writeError(w, http.StatusBadRequest, req.Model+" is not an image generation model")
		return
	}
	n := max(req.N, 1)
	data := make([]any, n)
	for i := range data {
		data[i] = map[string]any{"b64_json": base64.StdEncoding.EncodeToString(s.png), "media_type": "image/png"}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"created": s.opts.Now().Unix(), "data": data,
		"usage": map[string]any{"prompt_tokens": 0, "completion_tokens": 1290 * n, "total_tokens": 1290 * n,
			"cost": 0.04 * float64(n)},
	})
}

func (s *Server) listVideoModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": defaultVideoModels()})
}

// videoRequest holds the fields of VideoGenerationRequest the fake reads.
type videoRequest struct {
	Model       string `json:"model"`
	Prompt      string `json:"prompt"`
	Duration    *int   `json:"duration"`
	Resolution  string `json:"resolution"`
	AspectRatio string `json:"aspect_ratio"`
	FrameImages []struct {
		Type      string `json:"type"`
		FrameType string `json:"frame_type"`
		ImageURL  struct {
			URL string `json:"url"`
		} `json:"image_url"`
	} `json:"frame_images"`
}

type videoJob struct {
	id, generationID, model string
	created                 time.Time
	polls                   int
	fail                    bool
}

func (s *Server) submitVideo(w http.ResponseWriter, r *http.Request) {
	var req videoRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if problem := checkVideo(req); problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	job := &videoJob{id: s.nextID("job"), generationID: s.nextID("gen"), model: req.Model,
		created: s.opts.Now(), fail: failureOf(r.Context()).Mode == FailVideoJob}
	s.mu.Lock()
	s.jobs[job.id] = job
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, s.jobBody(r, job, "pending"))
}

// checkVideo refuses what upstream refuses: unknown models, parameters the
// model does not support, missing prompt and malformed frame images.
func checkVideo(req videoRequest) string {
	var m *videoModel
	for _, candidate := range defaultVideoModels() {
		if candidate.ID == req.Model {
			m = &candidate
		}
	}
	switch {
	case m == nil:
		return req.Model + " is not a valid video model ID"
	case req.Prompt == "" && len(req.FrameImages) == 0:
		return "prompt: required unless frame images are given"
	case req.Duration != nil && !slices.Contains(m.SupportedDurations, *req.Duration):
		return fmt.Sprintf("duration %d is not supported by %s; supported: %s", *req.Duration, m.ID, joinInts(m.SupportedDurations))
	case req.Resolution != "" && !slices.Contains(m.SupportedResolutions, req.Resolution):
		return fmt.Sprintf("resolution %q is not supported by %s; supported: %s", req.Resolution, m.ID, strings.Join(m.SupportedResolutions, ", "))
	case req.AspectRatio != "" && !slices.Contains(m.SupportedAspectRatios, req.AspectRatio):
		return fmt.Sprintf("aspect_ratio %q is not supported by %s; supported: %s", req.AspectRatio, m.ID, strings.Join(m.SupportedAspectRatios, ", "))
	}
	for _, frame := range req.FrameImages {
		switch {
		case frame.Type != "image_url" || frame.ImageURL.URL == "":
			return "frame_images: each needs type image_url and image_url.url"
		case !slices.Contains(m.SupportedFrameImages, frame.FrameType):
			return fmt.Sprintf("frame_type %q is not supported by %s", frame.FrameType, m.ID)
		case !strings.HasPrefix(frame.ImageURL.URL, "https://") && !strings.HasPrefix(frame.ImageURL.URL, "data:image/"):
			return "frame_images: image_url.url must be an https or data:image URL"
		}
	}
	return ""
}

func joinInts(values []int) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ", ")
}

// getVideo answers a poll and moves the job along.
func (s *Server) getVideo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	job, ok := s.jobs[r.PathValue("jobId")]
	var status string
	if ok {
		job.polls++
		status = s.statusOf(job)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Video generation job not found")
		return
	}
	writeJSON(w, http.StatusOK, s.jobBody(r, job, status))
}

// statusOf is a job's state: in_progress until VideoPolls polls (or
// VideoAfter) have passed, then completed or failed. Call with s.mu held.
func (s *Server) statusOf(job *videoJob) string {
	done := job.polls >= s.opts.VideoPolls
	if s.opts.VideoAfter > 0 {
		done = s.opts.Now().Sub(job.created) >= s.opts.VideoAfter
	}
	switch {
	case !done && job.polls == 0:
		return "pending"
	case !done:
		return "in_progress"
	case job.fail:
		return "failed"
	}
	return "completed"
}

// jobBody is the spec's VideoGenerationResponse for job in status.
func (s *Server) jobBody(r *http.Request, job *videoJob, status string) map[string]any {
	path := "/api/v1/videos/" + job.id
	polling := path
	if s.opts.AbsolutePollingURL {
		polling = "http://" + r.Host + path
	}
	body := map[string]any{"id": job.id, "generation_id": job.generationID, "polling_url": polling, "status": status}
	switch status {
	case "completed":
		body["unsigned_urls"] = []string{"http://" + r.Host + path + "/content?index=0"}
		body["usage"] = map[string]any{"cost": 0.4, "is_byok": false}
	case "failed":
		body["error"] = "The provider could not generate this video (simulated failure)."
	}
	return body
}

// videoContent serves the MP4 of a completed job (Range requests work).
func (s *Server) videoContent(w http.ResponseWriter, r *http.Request) {
	if idx := r.URL.Query().Get("index"); idx != "" && idx != "0" {
		writeError(w, http.StatusBadRequest, "index: this job has one output (index 0)")
		return
	}
	s.mu.Lock()
	job, ok := s.jobs[r.PathValue("jobId")]
	status := ""
	if ok {
		status = s.statusOf(job)
	}
	s.mu.Unlock()
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "Video generation job not found")
	case status != "completed":
		writeError(w, http.StatusBadRequest, "Video generation is not completed (status "+status+")")
	default:
		w.Header().Set("Content-Type", "video/mp4")
		http.ServeContent(w, r, job.id+".mp4", job.created, bytes.NewReader(sampleMP4))
	}
}
