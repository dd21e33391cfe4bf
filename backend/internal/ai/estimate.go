package ai

import (
	"context"
	"math"
	"strconv"

	"github.com/duckgate/duckgate/backend/internal/openrouter"
)

// Cost estimates, reserved against a user's budget while a call is in
// flight and replaced by OpenRouter's own cost when it ends. They are read
// from the model's published prices; a model without prices (or a
// catalogue that cannot be fetched) estimates 0 and is bounded by its real
// cost alone.
const (
	// defaultCompletionTokens is the answer length assumed when a request
	// sets no max_tokens.
	defaultCompletionTokens = 1024
	// imageCompletionTokens is what an image costs in output tokens upstream.
	imageCompletionTokens = 1290
	// bytesPerToken approximates how many bytes of text make a token.
	bytesPerToken = 4
)

func price(p openrouter.Pricing, name string) float64 {
	v, err := strconv.ParseFloat(p[name], 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// tokenEstimate is the cost of a call to modelID writing promptBytes of
// prompt and at most maxTokens of answer (0: defaultCompletionTokens,
// capped by the model's own maximum).
func (s *Service) tokenEstimate(ctx context.Context, modelID string, promptBytes, maxTokens int) float64 {
	cat, err := s.models.get(ctx)
	if err != nil {
		return 0
	}
	m, ok := cat.model(modelID)
	if !ok {
		return 0
	}
	completion := maxTokens
	if completion <= 0 {
		completion = defaultCompletionTokens
		if limit := m.TopProvider.MaxCompletionTokens; limit > 0 {
			completion = min(completion, limit)
		}
	}
	prompt := promptBytes/bytesPerToken + 1
	return float64(prompt)*price(m.Pricing, "prompt") + float64(completion)*price(m.Pricing, "completion") + price(m.Pricing, "request")
}

func (s *Service) chatEstimate(ctx context.Context, req openrouter.ChatRequest) func() float64 {
	return func() float64 {
		n := 0
		for _, m := range req.Messages {
			n += len(m.Content) + 4*bytesPerToken
		}
		maxTokens := 0
		if req.MaxTokens != nil {
			maxTokens = *req.MaxTokens
		}
		return s.tokenEstimate(ctx, req.Model, n, maxTokens)
	}
}

func (s *Service) imageEstimate(ctx context.Context, modelID, prompt string) func() float64 {
	return func() float64 {
		cat, err := s.models.get(ctx)
		if err != nil {
			return 0
		}
		m, ok := cat.model(modelID)
		if !ok {
			return 0
		}
		return s.tokenEstimate(ctx, modelID, len(prompt), imageCompletionTokens) + price(m.Pricing, "image")
	}
}

func (s *Service) videoEstimate(ctx context.Context, modelID string) func() float64 {
	return func() float64 {
		cat, err := s.models.get(ctx)
		if err != nil {
			return 0
		}
		m, ok := cat.videoModel(modelID)
		if !ok {
			return 0
		}
		highest := 0.0
		for name := range m.PricingSKUs {
			highest = math.Max(highest, price(openrouter.Pricing(m.PricingSKUs), name))
		}
		return highest
	}
}
