package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestUsageBatchAggregatesByModelUserAndDay(t *testing.T) {
	s := openTestStore(t, "", nil)
	ctx := context.Background()
	ann, bob := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	now := time.Now().UTC()
	cost := 0.5
	var batch []UsageRecord
	// 1200 records cross the per-statement chunk size; one write commits them.
	for i := range 1200 {
		r := UsageRecord{At: now.Add(-time.Duration(i) * time.Second), UserID: ann, Kind: "chat",
			Model: "m/a", Status: UsageStatusOK, LatencyMS: 10, PromptTokens: 2, CompletionTokens: 3}
		if i%4 == 0 {
			r.UserID, r.Model, r.Status, r.Cost = bob, "m/b", "502", &cost
		}
		batch = append(batch, r)
	}
	old := UsageRecord{At: now.Add(-48 * time.Hour), UserID: ann, Kind: "text", Model: "m/old", Status: UsageStatusOK}
	if err := s.InsertUsage(ctx, append(batch, old)); err != nil {
		t.Fatal(err)
	}

	stats, err := s.AIStats(ctx, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Requests != 1200 || len(stats.ByModel) != 2 || stats.ByModel[0] != (ModelUsage{"m/a", 900, 4500}) ||
		stats.ByModel[1] != (ModelUsage{"m/b", 300, 1500}) {
		t.Fatalf("stats %+v", stats)
	}

	byUser, err := s.UsageReport(ctx, now.Add(-72*time.Hour), UsageByUser)
	if err != nil {
		t.Fatal(err)
	}
	if len(byUser) != 2 || byUser[0].Key != ann.String() || byUser[0].Requests != 901 || byUser[0].Errors != 0 {
		t.Fatalf("by user %+v", byUser)
	}
	if b := byUser[1]; b.Key != bob.String() || b.Errors != 300 || b.Cost != 150 || b.AvgLatencyMS != 10 || b.PromptTokens != 600 {
		t.Fatalf("bob's row %+v", b)
	}
	byDay, err := s.UsageReport(ctx, now.Add(-72*time.Hour), UsageByDay)
	if err != nil {
		t.Fatal(err)
	}
	if len(byDay) < 2 || byDay[len(byDay)-1].Key != now.Add(-48*time.Hour).Format("2006-01-02") || byDay[len(byDay)-1].Requests != 1 {
		t.Fatalf("by day %+v", byDay)
	}
	if _, err := s.UsageReport(ctx, now, "week"); err == nil {
		t.Fatal("an unknown grouping was accepted")
	}
}

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
		j := &VideoJob{UserID: owner, UpstreamID: "job-" + string(rune('a'+i)), PollingURL: "/api/v1/videos/x",
			Status: "pending", Model: "google/veo-3.1", Prompt: "a duck", Params: `{}`,
			CreatedAt: now.Add(time.Duration(i) * time.Second), UpdatedAt: now}
		if err := s.CreateVideoJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	if err := s.InsertUsage(ctx, []UsageRecord{{At: now, UserID: owner, Kind: "video", Model: "google/veo-3.1",
		Status: UsageStatusOK, GenerationID: "gen-1"}}); err != nil {
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
	if err := s.UpdateVideoJob(ctx, VideoJob{ID: uuid.Must(uuid.NewV7()), Status: "failed"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("updating an unknown job: %v", err)
	}
	s.Close()

	s = openTestStore(t, path, nil)
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
	report, err := s.UsageReport(ctx, now.Add(-time.Hour), UsageByModel)
	if err != nil || len(report) != 1 || report[0].Cost != 0.4 {
		t.Fatalf("the video's cost did not reach its usage record: %+v, %v", report, err)
	}
	if _, err := s.VideoJob(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
}
