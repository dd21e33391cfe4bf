package ai

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/duckgate/duckgate/backend/internal/openrouter"
	"github.com/duckgate/duckgate/shared/api"
)

// catalog is upstream's model catalogue at one moment: the chat models
// (GET /models?output_modalities=all), the video models (GET /videos/models)
// and the models of the dedicated image endpoint (GET /images/models).
type catalog struct {
	models      []openrouter.Model
	videoModels []openrouter.VideoModel
	imageModels []openrouter.ImageModel
}

func (c *catalog) model(id string) (openrouter.Model, bool) {
	i := slices.IndexFunc(c.models, func(m openrouter.Model) bool { return m.ID == id })
	if i < 0 {
		return openrouter.Model{}, false
	}
	return c.models[i], true
}

func (c *catalog) videoModel(id string) (openrouter.VideoModel, bool) {
	i := slices.IndexFunc(c.videoModels, func(m openrouter.VideoModel) bool { return m.ID == id })
	if i < 0 {
		return openrouter.VideoModel{}, false
	}
	return c.videoModels[i], true
}

func (c *catalog) imageModel(id string) (openrouter.ImageModel, bool) {
	i := slices.IndexFunc(c.imageModels, func(m openrouter.ImageModel) bool { return m.ID == id })
	if i < 0 {
		return openrouter.ImageModel{}, false
	}
	return c.imageModels[i], true
}

func (c *catalog) videoModelIDs() []string {
	ids := make([]string, len(c.videoModels))
	for i, m := range c.videoModels {
		ids[i] = m.ID
	}
	return ids
}

// catalogCache keeps the catalogue for a TTL. When it is missing or stale,
// however many requests ask at once, one fetch goes upstream (singleflight)
// and they all share its outcome. A failed refresh keeps serving the last
// good catalogue (a model picker should not break because OpenRouter's
// listing hiccups) and tries again after staleRetry; with no catalogue yet,
// the failure is the answer, and it is not cached.
type catalogCache struct {
	client *openrouter.Client
	ttl    time.Duration
	now    func() time.Time
	log    *slog.Logger
	group  singleflight.Group

	mu        sync.Mutex
	current   *catalog
	fetchedAt time.Time
}

// staleRetry is how long a stale catalogue serves after a failed refresh
// before the next attempt.
const staleRetry = 30 * time.Second

func newCatalogCache(client *openrouter.Client, ttl time.Duration, now func() time.Time, log *slog.Logger) *catalogCache {
	return &catalogCache{client: client, ttl: ttl, now: now, log: log}
}

// get returns the cached catalogue, fetching it when stale.
func (cc *catalogCache) get(ctx context.Context) (*catalog, error) {
	cc.mu.Lock()
	fresh := cc.current != nil && cc.now().Sub(cc.fetchedAt) < cc.ttl
	current := cc.current
	cc.mu.Unlock()
	if fresh {
		return current, nil
	}
	// The fetch runs detached from the first caller's context: that caller
	// leaving must not fail the others waiting for the same fetch.
	ch := cc.group.DoChan("catalog", func() (any, error) {
		return cc.fetch(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*catalog), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (cc *catalogCache) fetch(ctx context.Context) (*catalog, error) {
	var c catalog
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { c.models, err = cc.client.ListModels(gctx); return err })
	g.Go(func() (err error) { c.videoModels, err = cc.client.ListVideoModels(gctx); return err })
	g.Go(func() (err error) { c.imageModels, err = cc.client.ListImageModels(gctx); return err })
	if err := g.Wait(); err != nil {
		return cc.stale(fmt.Errorf("ai: fetch the model catalogue: %w", err))
	}
	cc.mu.Lock()
	cc.current, cc.fetchedAt = &c, cc.now()
	cc.mu.Unlock()
	return &c, nil
}

// stale answers a failed refresh: the last good catalogue, deemed fresh for
// staleRetry more, or err when there is none.
func (cc *catalogCache) stale(err error) (*catalog, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.current == nil {
		return nil, err
	}
	cc.fetchedAt = cc.now().Add(staleRetry - cc.ttl)
	cc.log.Warn("serving the previous model catalogue: refreshing it failed", "retry_in", staleRetry.String(), "err", err)
	return cc.current, nil
}

// Models lists the catalogue in the contract's shape, only the models with
// the given output modality when it is not empty.
func (s *Service) Models(ctx context.Context, modality string) (api.ModelList, error) {
	if err := s.configured(); err != nil {
		return api.ModelList{}, err
	}
	cat, err := s.models.get(ctx)
	if err != nil {
		return api.ModelList{}, err
	}
	out := api.ModelList{Data: []api.Model{}}
	if modality != api.ModalityVideo {
		for _, m := range cat.models {
			if modality == "" || slices.Contains(m.Architecture.OutputModalities, modality) {
				out.Data = append(out.Data, fromModel(m))
			}
		}
	}
	if modality == "" || modality == api.ModalityVideo {
		for _, m := range cat.videoModels {
			out.Data = append(out.Data, fromVideoModel(m))
		}
	}
	return out, nil
}

func fromModel(m openrouter.Model) api.Model {
	return api.Model{ID: m.ID, Name: m.Name, ContextLength: m.ContextLength,
		InputModalities: orEmpty(m.Architecture.InputModalities), OutputModalities: orEmpty(m.Architecture.OutputModalities),
		Pricing: orEmptyMap(m.Pricing)}
}

func fromVideoModel(m openrouter.VideoModel) api.Model {
	inputs := []string{api.ModalityText}
	if len(m.SupportedFrameImages) > 0 {
		inputs = append(inputs, api.ModalityImage)
	}
	return api.Model{ID: m.ID, Name: m.Name, InputModalities: inputs, OutputModalities: []string{api.ModalityVideo},
		Pricing: orEmptyMap(m.PricingSKUs), SupportedDurations: m.SupportedDurations,
		SupportedResolutions: m.SupportedResolutions, SupportedAspectRatios: m.SupportedAspectRatios}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
