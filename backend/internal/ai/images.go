package ai

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Generated images are kept for their owner, as rows with their bytes (so
// every replica of a PostgreSQL deployment serves them), within a quota of
// bytes per user checked before each generation.

// checkImageQuota refuses a generation while the user's kept images take
// their whole quota.
func (s *Service) checkImageQuota(ctx context.Context, user uuid.UUID) error {
	used, err := s.store.ImageBytes(ctx, user)
	if err != nil {
		return fmt.Errorf("ai: image quota: %w", err)
	}
	if used >= s.opts.ImageQuotaBytes {
		return &model.ImageQuotaError{Used: used, Quota: s.opts.ImageQuotaBytes}
	}
	return nil
}

// keepImages stores the data: images of a generation and names the kept
// copies in images. An https image (not what OpenRouter sends) stays a link.
func (s *Service) keepImages(ctx context.Context, user uuid.UUID, prompt, modelID string, images []api.Image) error {
	var kept []model.StoredImage
	for i, img := range images {
		data, mediaType, ok := decodeDataImage(img.URL)
		if !ok {
			continue
		}
		sum := sha256.Sum256(data)
		stored := model.StoredImage{ID: uuid.Must(uuid.NewV7()), UserID: user, Prompt: prompt, Model: modelID, MediaType: mediaType,
			Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Content: data, CreatedAt: s.now()}
		kept = append(kept, stored)
		images[i].ID, images[i].ContentURL = stored.ID.String(), contentURL(stored.ID)
	}
	if len(kept) == 0 {
		return nil
	}
	if err := s.store.SaveImages(ctx, kept); err != nil {
		return fmt.Errorf("ai: keep images: %w", err)
	}
	return nil
}

// decodeDataImage reads a base64 data: URL of an image format we serve.
func decodeDataImage(raw string) (data []byte, mediaType string, ok bool) {
	if !strings.HasPrefix(strings.ToLower(raw), "data:") {
		return nil, "", false
	}
	header, payload, found := strings.Cut(raw[len("data:"):], ",")
	if !found || !strings.HasSuffix(strings.ToLower(header), ";base64") {
		return nil, "", false
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return nil, "", false
	}
	mediaType = sniffImage(data) // trust the bytes, not the declared type
	return data, mediaType, mediaType != ""
}

func contentURL(id uuid.UUID) string { return "/generate/image/" + id.String() + "/content" }

// Images lists the caller's kept images and their storage use.
func (s *Service) Images(ctx context.Context, user uuid.UUID, limit, offset int) (api.ImageList, error) {
	list, total, err := s.store.Images(ctx, user, limit, offset)
	if err != nil {
		return api.ImageList{}, fmt.Errorf("ai: list images: %w", err)
	}
	used, err := s.store.ImageBytes(ctx, user)
	if err != nil {
		return api.ImageList{}, fmt.Errorf("ai: image bytes: %w", err)
	}
	out := api.ImageList{Items: make([]api.StoredImage, 0, len(list)), Total: total, UsedBytes: used, QuotaBytes: s.opts.ImageQuotaBytes}
	for _, img := range list {
		out.Items = append(out.Items, api.StoredImage{ID: img.ID.String(), Prompt: img.Prompt, Model: img.Model,
			MediaType: img.MediaType, Bytes: img.Bytes, ContentURL: contentURL(img.ID), CreatedAt: img.CreatedAt.UTC()})
	}
	return out, nil
}

// Image returns a kept image with its bytes: to its owner or an admin;
// anyone else gets the same not-found as for an unknown id.
func (s *Service) Image(ctx context.Context, caller Caller, rawID string) (model.StoredImage, error) {
	id, err := uuid.Parse(rawID)
	if err != nil {
		return model.StoredImage{}, model.ErrImageNotFound
	}
	img, err := s.store.Image(ctx, id)
	if errors.Is(err, model.ErrNotFound) || (err == nil && img.UserID != caller.UserID && !caller.IsAdmin) {
		return model.StoredImage{}, model.ErrImageNotFound
	}
	if err != nil {
		return model.StoredImage{}, fmt.Errorf("ai: read image: %w", err)
	}
	return img, nil
}

// DeleteImage deletes one of the caller's kept images.
func (s *Service) DeleteImage(ctx context.Context, user uuid.UUID, rawID string) error {
	id, err := uuid.Parse(rawID)
	if err != nil {
		return model.ErrImageNotFound
	}
	err = s.store.DeleteImage(ctx, user, id)
	if errors.Is(err, model.ErrNotFound) {
		return model.ErrImageNotFound
	} else if err != nil {
		return fmt.Errorf("ai: delete image: %w", err)
	}
	return nil
}
