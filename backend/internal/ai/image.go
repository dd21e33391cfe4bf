package ai

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/duckgate/duckgate/backend/internal/model"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/openrouter"
	"github.com/duckgate/duckgate/shared/api"
)

// imagePlan is how one image request goes upstream.
type imagePlan struct {
	model string
	// viaImagesEndpoint: POST /images (image-only models listed there);
	// otherwise chat completions with modalities.
	viaImagesEndpoint bool
	modalities        []string
	aspectRatios      []string
}

// GenerateImage generates images from a prompt.
func (s *Service) GenerateImage(ctx context.Context, userID uuid.UUID, in api.ImageRequest) (api.ImageResponse, error) {
	var fields []model.FieldError
	if strings.TrimSpace(in.Prompt) == "" {
		fields = append(fields, model.Field("prompt", "must not be empty"))
	} else if len(in.Prompt) > MaxConversationBytes {
		fields = append(fields, model.Field("prompt", fmt.Sprintf("may hold at most %d bytes", MaxConversationBytes)))
	}
	fields = append(fields, checkModelID(in.Model)...)
	if err := s.configuredAndValid(fields); err != nil {
		return api.ImageResponse{}, err
	}
	plan, err := s.planImage(ctx, modelOr(in.Model, s.opts.DefaultImageModel))
	if err != nil {
		return api.ImageResponse{}, err
	}
	if in.AspectRatio != "" && !slices.Contains(plan.aspectRatios, in.AspectRatio) {
		return api.ImageResponse{}, model.Invalid(model.Field("aspect_ratio",
			fmt.Sprintf("%q is not offered by %s; allowed values: %s", in.AspectRatio, plan.model, strings.Join(plan.aspectRatios, ", "))))
	}
	if err := s.checkImageQuota(ctx, userID); err != nil {
		return api.ImageResponse{}, err
	}
	c, err := s.beginCall(ctx, userID, model.KindImage, plan.model, s.imageEstimate(ctx, plan.model, in.Prompt))
	if err != nil {
		return api.ImageResponse{}, err
	}
	var out api.ImageResponse
	if plan.viaImagesEndpoint {
		out, err = s.imageViaImagesEndpoint(ctx, c, plan, in)
	} else {
		out, err = s.imageViaChat(ctx, c, plan, userID, in)
	}
	if err != nil {
		return out, err
	}
	// Upstream made (and billed) the images: keep them even if our client
	// has gone.
	if err := s.keepImages(context.WithoutCancel(ctx), userID, in.Prompt, out.Model, out.Images); err != nil {
		return api.ImageResponse{}, err
	}
	return out, nil
}

// planImage checks that model makes images and decides how to ask it.
func (s *Service) planImage(ctx context.Context, modelID string) (imagePlan, error) {
	cat, err := s.models.get(ctx)
	if err != nil {
		return imagePlan{}, err
	}
	chatModel, inChat := cat.model(modelID)
	imageModel, inImages := cat.imageModel(modelID)
	makesImages := inChat && slices.Contains(chatModel.Architecture.OutputModalities, api.ModalityImage)
	if !makesImages && !inImages {
		return imagePlan{}, model.Invalid(model.Field("model",
			fmt.Sprintf("%s does not generate images; image models: %s", modelID, strings.Join(imageModelIDs(cat), ", "))))
	}
	plan := imagePlan{model: modelID, aspectRatios: api.ChatImageAspectRatios()}
	if capability, ok := imageModel.SupportedParameters["aspect_ratio"]; inImages && ok && len(capability.Values) > 0 {
		plan.aspectRatios = capability.Values
	}
	writesText := makesImages && slices.Contains(chatModel.Architecture.OutputModalities, api.ModalityText)
	plan.viaImagesEndpoint = inImages && !writesText
	if !plan.viaImagesEndpoint {
		plan.modalities = chatModel.ImageModalities()
	}
	return plan, nil
}

func imageModelIDs(cat *catalog) []string {
	var ids []string
	for _, m := range cat.models {
		if slices.Contains(m.Architecture.OutputModalities, api.ModalityImage) {
			ids = append(ids, m.ID)
		}
	}
	for _, m := range cat.imageModels {
		if !slices.Contains(ids, m.ID) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

func (s *Service) imageViaChat(ctx context.Context, c *call, plan imagePlan, userID uuid.UUID, in api.ImageRequest) (api.ImageResponse, error) {
	req := openrouter.ChatRequest{Model: plan.model, UserID: userID.String(), Modalities: plan.modalities,
		Messages: []openrouter.Message{{Role: openrouter.RoleUser, Content: openrouter.Content(in.Prompt)}}}
	if in.AspectRatio != "" {
		req.ImageConfig = &openrouter.ImageConfig{AspectRatio: in.AspectRatio}
	}
	out, err := s.client.ChatCompletion(ctx, req)
	if err != nil {
		c.finish(ctx, err, nil, "")
		return api.ImageResponse{}, err
	}
	urls := out.ImageURLs()
	if len(urls) == 0 {
		err := fmt.Errorf("ai: image via chat: %w", model.ErrNoImage)
		c.finish(ctx, err, out.Usage, out.ID)
		return api.ImageResponse{}, err
	}
	c.finish(ctx, nil, out.Usage, out.ID)
	resp := api.ImageResponse{Model: modelOr(out.Model, plan.model), Text: out.Text()}
	for _, u := range urls {
		resp.Images = append(resp.Images, api.Image{URL: u})
	}
	return resp, nil
}

func (s *Service) imageViaImagesEndpoint(ctx context.Context, c *call, plan imagePlan, in api.ImageRequest) (api.ImageResponse, error) {
	out, err := s.client.CreateImage(ctx, openrouter.ImageRequest{Model: plan.model, Prompt: in.Prompt, AspectRatio: in.AspectRatio})
	if err != nil {
		c.finish(ctx, err, nil, "")
		return api.ImageResponse{}, err
	}
	c.finish(ctx, nil, out.Usage, "")
	resp := api.ImageResponse{Model: plan.model}
	for _, img := range out.Data {
		resp.Images = append(resp.Images, api.Image{URL: img.DataURL()})
	}
	return resp, nil
}
