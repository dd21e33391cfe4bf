package fakeopenrouter

import "slices"

// The fake's model catalogue: a handful of realistic entries in the shapes
// of the spec's Model, ImageModelListItem and VideoModel.

type modelArchitecture struct {
	Modality         string   `json:"modality"`
	InputModalities  []string `json:"input_modalities"`
	OutputModalities []string `json:"output_modalities"`
	Tokenizer        string   `json:"tokenizer"`
	InstructType     *string  `json:"instruct_type"`
}

type topProvider struct {
	ContextLength       int  `json:"context_length"`
	MaxCompletionTokens int  `json:"max_completion_tokens"`
	IsModerated         bool `json:"is_moderated"`
}

type modelLinks struct {
	Details string `json:"details"`
}

type model struct {
	ID                  string            `json:"id"`
	CanonicalSlug       string            `json:"canonical_slug"`
	Name                string            `json:"name"`
	Description         string            `json:"description"`
	Created             int64             `json:"created"`
	ContextLength       int               `json:"context_length"`
	Architecture        modelArchitecture `json:"architecture"`
	Pricing             map[string]string `json:"pricing"`
	TopProvider         topProvider       `json:"top_provider"`
	PerRequestLimits    *struct{}         `json:"per_request_limits"`
	SupportedParameters []string          `json:"supported_parameters"`
	DefaultParameters   *struct{}         `json:"default_parameters"`
	SupportedVoices     []string          `json:"supported_voices"`
	Links               modelLinks        `json:"links"`
}

func textModel(id, name, tokenizer string, context int, prompt, completion string, inputs ...string) model {
	return model{
		ID: id, CanonicalSlug: id, Name: name, Created: 1735689600, ContextLength: context,
		Description: name + " (simulated by the fake OpenRouter).",
		Architecture: modelArchitecture{Modality: modalityString(inputs, []string{"text"}),
			InputModalities: inputs, OutputModalities: []string{"text"}, Tokenizer: tokenizer},
		Pricing:             map[string]string{"prompt": prompt, "completion": completion, "request": "0", "image": "0"},
		TopProvider:         topProvider{ContextLength: context, MaxCompletionTokens: 16384},
		SupportedParameters: []string{"temperature", "top_p", "max_tokens", "stop", "seed"},
		Links:               modelLinks{Details: "/api/v1/models/" + id + "/endpoints"},
	}
}

func imageModel(id, name, tokenizer string, outputs []string, prompt, completion, image string) model {
	m := textModel(id, name, tokenizer, 32768, prompt, completion, "text", "image")
	m.Architecture.OutputModalities = outputs
	m.Architecture.Modality = modalityString(m.Architecture.InputModalities, outputs)
	m.Pricing["image"] = image
	m.SupportedParameters = []string{"temperature", "max_tokens", "seed"}
	return m
}

func modalityString(inputs, outputs []string) string {
	join := func(s []string) string {
		out := ""
		for i, v := range s {
			if i > 0 {
				out += "+"
			}
			out += v
		}
		return out
	}
	return join(inputs) + "->" + join(outputs)
}

// defaultModels is GET /models with output_modalities=all.
func defaultModels() []model {
	return []model{
		textModel("openai/gpt-4o-mini", "OpenAI: GPT-4o-mini", "GPT", 128000, "0.00000015", "0.0000006", "text", "image", "file"),
		textModel("openai/gpt-5-mini", "OpenAI: GPT-5 Mini", "GPT", 400000, "0.00000025", "0.000002", "text", "image", "file"),
		textModel("anthropic/claude-sonnet-4.5", "Anthropic: Claude Sonnet 4.5", "Claude", 1000000, "0.000003", "0.000015", "text", "image", "file"),
		textModel("google/gemini-2.5-flash", "Google: Gemini 2.5 Flash", "Gemini", 1048576, "0.0000003", "0.0000025", "text", "image", "file", "audio", "video"),
		textModel("meta-llama/llama-3.3-70b-instruct", "Meta: Llama 3.3 70B Instruct", "Llama3", 131072, "0.00000013", "0.0000004", "text"),
		imageModel("google/gemini-2.5-flash-image", "Google: Gemini 2.5 Flash Image (Nano Banana)", "Gemini",
			[]string{"image", "text"}, "0.0000003", "0.0000025", "0.0000003"),
		imageModel("black-forest-labs/flux.2-pro", "Black Forest Labs: FLUX.2 Pro", "Other",
			[]string{"image"}, "0", "0", "0.03"),
	}
}

type capability struct {
	Type   string   `json:"type"`
	Values []string `json:"values,omitempty"`
}

type imageArchitecture struct {
	InputModalities  []string `json:"input_modalities"`
	OutputModalities []string `json:"output_modalities"`
}

type imageModelItem struct {
	ID                  string                `json:"id"`
	Name                string                `json:"name"`
	Description         string                `json:"description"`
	Created             int64                 `json:"created"`
	Architecture        imageArchitecture     `json:"architecture"`
	SupportedParameters map[string]capability `json:"supported_parameters"`
	SupportsStreaming   bool                  `json:"supports_streaming"`
	Endpoints           string                `json:"endpoints"`
}

// imageModels is GET /images/models: the image-producing models of the
// catalogue, as the dedicated image endpoint describes them.
func imageModels(models []model) []imageModelItem {
	var items []imageModelItem
	for _, m := range models {
		if !slices.Contains(m.Architecture.OutputModalities, "image") {
			continue
		}
		items = append(items, imageModelItem{
			ID: m.ID, Name: m.Name, Description: m.Description, Created: m.Created,
			Architecture: imageArchitecture{InputModalities: []string{"text", "image"}, OutputModalities: []string{"image"}},
			SupportedParameters: map[string]capability{
				"aspect_ratio": {Type: "enum", Values: []string{"1:1", "16:9", "9:16", "4:3", "3:4"}},
				"resolution":   {Type: "enum", Values: []string{"1K", "2K"}},
				"seed":         {Type: "boolean"},
			},
			Endpoints: "/api/v1/images/models/" + m.ID + "/endpoints",
		})
	}
	return items
}

type videoModel struct {
	ID                           string            `json:"id"`
	CanonicalSlug                string            `json:"canonical_slug"`
	Name                         string            `json:"name"`
	Description                  string            `json:"description"`
	Created                      int64             `json:"created"`
	SupportedDurations           []int             `json:"supported_durations"`
	SupportedResolutions         []string          `json:"supported_resolutions"`
	SupportedAspectRatios        []string          `json:"supported_aspect_ratios"`
	SupportedSizes               []string          `json:"supported_sizes"`
	SupportedFrameImages         []string          `json:"supported_frame_images"`
	UpscaleFactor                *struct{}         `json:"upscale_factor"`
	Creativity                   []int             `json:"creativity"`
	GenerateAudio                *bool             `json:"generate_audio"`
	Seed                         *bool             `json:"seed"`
	AllowedPassthroughParameters []string          `json:"allowed_passthrough_parameters"`
	PricingSKUs                  map[string]string `json:"pricing_skus"`
}

// defaultVideoModels is GET /videos/models.
func defaultVideoModels() []videoModel {
	yes := true
	return []videoModel{
		{
			ID: "google/veo-3.1", CanonicalSlug: "google/veo-3.1", Name: "Google: Veo 3.1",
			Description: "Google video generation model (simulated).", Created: 1760000000,
			SupportedDurations: []int{4, 6, 8}, SupportedResolutions: []string{"720p", "1080p"},
			SupportedAspectRatios: []string{"16:9", "9:16"}, SupportedFrameImages: []string{"first_frame", "last_frame"},
			GenerateAudio: &yes, AllowedPassthroughParameters: []string{}, PricingSKUs: map[string]string{"generate": "0.40"},
		},
		{
			ID: "openai/sora-2", CanonicalSlug: "openai/sora-2", Name: "OpenAI: Sora 2",
			Description: "OpenAI video generation model (simulated).", Created: 1759300000,
			SupportedDurations: []int{4, 8, 12}, SupportedResolutions: []string{"720p"},
			SupportedAspectRatios: []string{"16:9", "9:16"}, SupportedFrameImages: []string{"first_frame"},
			AllowedPassthroughParameters: []string{}, PricingSKUs: map[string]string{"generate": "0.10"},
		},
	}
}
