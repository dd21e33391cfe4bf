// Package ai is the AI gateway: /ai/models, /ai/chat (JSON or streamed),
// /generate/text, /generate/image, the asynchronous /generate/video jobs, and
// the usage records behind /admin/stats and /admin/usage.
//
// Every call goes upstream through the openrouter client, which keeps the
// API key to itself; users only ever see our own shapes and problems. Each
// generation call (not model listings, not polls) leaves a usage record,
// collected by a Recorder that writes them in batches off the request path.
package ai

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/background"
	"github.com/duckgate/duckgate/backend/internal/config"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/openrouter"
	"github.com/duckgate/duckgate/shared/api"
)

// Store is what the gateway needs from storage.
type Store interface {
	InsertUsage(ctx context.Context, records []model.UsageRecord) error

	CreateVideoJob(ctx context.Context, j *model.VideoJob) error
	VideoJob(ctx context.Context, id uuid.UUID) (model.VideoJob, error)
	VideoJobs(ctx context.Context, userID uuid.UUID, limit, offset int) ([]model.VideoJob, int, error)
	UnfinishedVideoJobs(ctx context.Context, statuses ...string) ([]model.VideoJob, error)
	UpdateVideoJob(ctx context.Context, j model.VideoJob) error

	SaveImages(ctx context.Context, imgs []model.StoredImage) error
	Images(ctx context.Context, user uuid.UUID, limit, offset int) ([]model.StoredImage, int, error)
	Image(ctx context.Context, id uuid.UUID) (model.StoredImage, error)
	DeleteImage(ctx context.Context, user, id uuid.UUID) error
	ImageBytes(ctx context.Context, user uuid.UUID) (int64, error)
}

// Defaults of Options.
const (
	DefaultModelsTTL        = 10 * time.Minute
	DefaultMinPollInterval  = 3 * time.Second
	DefaultPollerInterval   = 5 * time.Second
	DefaultMaxImageBytes    = 5 << 20
	DefaultMaxPendingRecord = 100_000
	DefaultImageQuotaBytes  = 100 << 20
)

// Options configure the Service. Client nil means AI is not configured:
// every AI endpoint then answers 503.
type Options struct {
	Client *openrouter.Client
	Store  Store
	Logger *slog.Logger
	Now    func() time.Time

	// Models used when a request names none.
	DefaultTextModel, DefaultImageModel, DefaultVideoModel string

	// ModelsTTL is how long the upstream model catalogue is cached.
	ModelsTTL time.Duration
	// MinPollInterval is the least time between two upstream polls of one
	// video job, however often clients ask for it.
	MinPollInterval time.Duration
	// PollerInterval is how often the background poller refreshes the
	// unfinished jobs.
	PollerInterval time.Duration
	// MaxImageBytes bounds the decoded size of a data: image given to
	// /generate/video/from-image.
	MaxImageBytes int
	// ImageQuotaBytes bounds the bytes of generated images a user keeps.
	ImageQuotaBytes int64
	Hooks
}

// Hooks are what the rest of the backend lends the gateway.
type Hooks struct {
	// Describe is what a client is told of an error: its status and public
	// detail (the HTTP layer's error table). Usage records keep the status;
	// a stream that fails after it began tells both in its error event.
	// Without it every failure is a 500 with a generic detail.
	Describe func(error) (status int, detail string)
	// OpenAIError renders an error in OpenAI's envelope (the HTTP layer's
	// error table): what a /v1 stream's error event carries.
	OpenAIError func(error) api.OpenAIError
	// Budget reserves each call's estimated cost before it goes upstream;
	// nil: no budgets.
	Budget Budget
	// Background runs the video poller's loop on the replica that leads it
	// (nil: this process always leads, as with one process on DuckDB).
	Background *background.Runner
}

// Budget keeps users within their monthly spending limits: Reserve holds
// a call's estimated cost (asked for only when a limit applies) or refuses
// the call; the call's usage record names the reservation and settles it.
type Budget interface {
	Reserve(ctx context.Context, user uuid.UUID, estimate func() float64) (uuid.UUID, error)
	Release(ctx context.Context, user, id uuid.UUID)
}

// Service holds the gateway's rules.
type Service struct {
	client   *openrouter.Client
	store    Store
	log      *slog.Logger
	now      func() time.Time
	opts     Options
	models   *catalogCache
	recorder *Recorder
	videos   *videoPoller
}

// NewService wires the gateway and starts its background work (the usage
// recorder, and the video poller when AI is configured). Close stops both.
func NewService(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Now().UTC() }
	}
	opts.ModelsTTL = orDefault(opts.ModelsTTL, DefaultModelsTTL)
	opts.MinPollInterval = orDefault(opts.MinPollInterval, DefaultMinPollInterval)
	opts.PollerInterval = orDefault(opts.PollerInterval, DefaultPollerInterval)
	if opts.MaxImageBytes <= 0 {
		opts.MaxImageBytes = DefaultMaxImageBytes
	}
	if opts.ImageQuotaBytes <= 0 {
		opts.ImageQuotaBytes = DefaultImageQuotaBytes
	}
	if opts.Describe == nil {
		opts.Describe = func(error) (int, string) {
			return http.StatusInternalServerError, "something went wrong on our side"
		}
	}
	s := &Service{client: opts.Client, store: opts.Store, log: opts.Logger, now: opts.Now, opts: opts}
	s.models = newCatalogCache(opts.Client, opts.ModelsTTL, opts.Now, opts.Logger)
	s.recorder = NewRecorder(opts.Store, RecorderOptions{Logger: opts.Logger})
	s.videos = newVideoPoller(s)
	if s.client != nil {
		runner := opts.Background
		if runner == nil {
			runner = background.NewRunner(background.Always{}, background.Options{Logger: opts.Logger})
		}
		s.videos.start(runner)
	}
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Close stops the video poller, then flushes the remaining usage records.
// Call it after the HTTP server stopped and before the store closes.
func (s *Service) Close() {
	s.videos.stop()
	s.recorder.Close()
}

// configured fails with model.ErrAINotConfigured when there is no upstream.
func (s *Service) configured() error {
	if s.client == nil {
		return model.ErrAINotConfigured
	}
	return nil
}

// call is one upstream generation call being measured for its usage record.
type call struct {
	s      *Service
	record model.UsageRecord
	start  time.Time
}

// beginCall checks the user's budget, reserving the call's estimated cost
// (a *model.BudgetExceededError refuses the call, and nothing is recorded:
// nothing went upstream), then starts measuring the call.
func (s *Service) beginCall(ctx context.Context, userID uuid.UUID, kind, modelID string, estimate func() float64) (*call, error) {
	var reservation uuid.UUID
	if s.opts.Budget != nil {
		var err error
		if reservation, err = s.opts.Budget.Reserve(ctx, userID, estimate); err != nil {
			return nil, err
		}
	}
	now := s.now()
	return &call{s: s, start: time.Now(),
		record: model.UsageRecord{At: now, UserID: userID, Kind: kind, Model: modelID, Reservation: reservation}}, nil
}

// finish records the call, committed before it returns: its outcome (err
// nil for success), tokens and cost.
func (c *call) finish(ctx context.Context, err error, usage *openrouter.Usage, generationID string) {
	r := c.record
	r.LatencyMS = float64(time.Since(c.start).Microseconds()) / 1000
	r.GenerationID = generationID
	if usage != nil {
		r.PromptTokens, r.CompletionTokens, r.Cost = usage.PromptTokens, usage.CompletionTokens, usage.Cost
	}
	r.Status = model.UsageStatusOK
	if err != nil {
		r.Status, r.ErrorKind = c.s.failureStatus(err)
	}
	c.s.recorder.Record(ctx, r)
}

// failureStatus is the status a failed call answered and its kind.
func (s *Service) failureStatus(err error) (status, kind string) {
	code, _ := s.opts.Describe(err)
	status = strconv.Itoa(code)
	if oe, ok := errors.AsType[*openrouter.Error](err); ok {
		return status, oe.Kind.String()
	}
	if errors.Is(err, context.Canceled) {
		return strconv.Itoa(openrouter.StatusClientClosed), openrouter.KindCanceled.String()
	}
	return status, "internal"
}

// NewFromConfig builds the service the backend runs: an upstream client when
// OPENROUTER_API_KEY is set (none otherwise: the AI endpoints answer 503),
// the configured default models, the decoded-image limit and the image
// quota.
func NewFromConfig(cfg config.Config, st Store, logger *slog.Logger, hooks Hooks) *Service {
	opts := Options{Store: st, Logger: logger, Hooks: hooks,
		ImageQuotaBytes: cfg.ImageQuotaBytes, DefaultTextModel: cfg.AIDefaultTextModel,
		DefaultImageModel: cfg.AIDefaultImageModel, DefaultVideoModel: cfg.AIDefaultVideoModel}
	if cfg.OpenRouterAPIKey != "" {
		opts.Client = openrouter.New(openrouter.Config{BaseURL: cfg.OpenRouterBaseURL, APIKey: cfg.OpenRouterAPIKey,
			Timeout: cfg.AITimeout, AppURL: cfg.OpenRouterAppURL, AppTitle: cfg.OpenRouterAppTitle})
	}
	return NewService(opts)
}
