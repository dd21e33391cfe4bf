package duckdb

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

func TestVideoJobsSurviveReopenAndFillInTheirCost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "videos.duckdb")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	owner, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	now := time.Now().UTC()
	var ids []uuid.UUID
	for i := range 3 {
		j := &model.VideoJob{UserID: owner, UpstreamID: "job-" + string(rune('a'+i)), PollingURL: "/api/v1/videos/x",
			Status: "pending", Model: "google/veo-3.1", Prompt: "a duck", Params: `{}`,
			CreatedAt: now.Add(time.Duration(i) * time.Second), UpdatedAt: now}
		if err := s.CreateVideoJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	if err := s.InsertUsage(ctx, []model.UsageRecord{{At: now, UserID: owner, Kind: "video", Model: "google/veo-3.1",
		Status: model.UsageStatusOK, GenerationID: "gen-1"}}); err != nil {
		t.Fatal(err)
	}
	cost, polled := 0.4, now.Add(time.Second)
	done, err := s.VideoJob(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	done.Status, done.Cost, done.PolledAt, done.UpdatedAt, done.GenerationID = "completed", &cost, &polled, polled, "gen-1"
	if err := s.UpdateVideoJob(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateVideoJob(ctx, model.VideoJob{ID: uuid.Must(uuid.NewV7()), Status: "failed"}); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("updating an unknown job: %v", err)
	}
	s.Close()

	s = openStoreAt(t, path, nil)
	page, total, err := s.VideoJobs(ctx, owner, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("page %+v total %d", page, total)
	}
	if _, n, _ := s.VideoJobs(ctx, other, 10, 0); n != 0 {
		t.Fatalf("another user sees %d jobs", n)
	}
	got, err := s.VideoJob(ctx, ids[0])
	if err != nil || got.Status != "completed" || got.Cost == nil || *got.Cost != 0.4 || got.PolledAt == nil {
		t.Fatalf("job after reopen %+v, %v", got, err)
	}
	unfinished, err := s.UnfinishedVideoJobs(ctx, "pending", "in_progress")
	if err != nil || len(unfinished) != 2 || unfinished[0].ID != ids[1] {
		t.Fatalf("unfinished %+v, %v", unfinished, err)
	}
	report, err := s.UsageReport(ctx, now.Add(-time.Hour), model.UsageByModel)
	if err != nil || len(report) != 1 || report[0].Cost != 0.4 {
		t.Fatalf("the video's cost did not reach its usage record: %+v, %v", report, err)
	}
	if _, err := s.VideoJob(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
}
