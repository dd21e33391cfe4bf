package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

func init() {
	register("AuditNewestFirstFilteredAndPaged", auditTrail)
	register("UsageRecordsAggregateByModelUserAndDay", usageRecords)
	register("VideoJobsListPollAndFillInTheirCost", videoJobs)
	register("PingAnswers", ping)
}

func auditTrail(t *testing.T, e *env) {
	actor := uuid.Must(uuid.NewV7()).String()
	for i := range 12 {
		a := &model.Audit{ActorID: actor, Action: api.AuditLoginFailed, Detail: fmt.Sprintf("attempt %d", i), RequestID: "req"}
		if i%3 == 0 {
			a.ActorID, a.Action, a.TargetID = "", api.AuditLockout, "someone"
		}
		if err := e.s.AppendAudit(e.ctx, a); err != nil {
			t.Fatal(err)
		}
		if a.ID == uuid.Nil || a.At.IsZero() {
			t.Fatalf("appended entry without id or time: %+v", a)
		}
		e.clk.Advance(time.Second)
	}
	all, total, err := e.s.ListAudit(e.ctx, model.AuditFilter{Limit: 5})
	if err != nil || total != 12 || len(all) != 5 || all[0].Detail != "attempt 11" || all[4].Detail != "attempt 7" {
		t.Fatalf("newest first: %+v (%d), %v", all, total, err)
	}
	if !all[0].At.After(all[1].At) || all[0].RequestID != "req" {
		t.Fatalf("entry fields: %+v", all[0])
	}
	rest, total, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Limit: 5, Offset: 10})
	if total != 12 || len(rest) != 2 || rest[1].Detail != "attempt 0" {
		t.Fatalf("last page: %+v (%d)", rest, total)
	}
	byActor, total, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Actor: actor, Limit: 50})
	if total != 8 || len(byActor) != 8 {
		t.Fatalf("by actor: %d entries, total %d", len(byActor), total)
	}
	byAction, total, _ := e.s.ListAudit(e.ctx, model.AuditFilter{Action: api.AuditLockout, Limit: 50})
	if total != 4 || byAction[0].TargetID != "someone" || byAction[0].ActorID != "" {
		t.Fatalf("by action: %+v (%d)", byAction, total)
	}
}

func usageRecords(t *testing.T, e *env) {
	ann, bob := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	now := e.clk.Now()
	cost := 0.5
	var batch []model.UsageRecord
	// 1200 records in one write: more than any one statement or chunk.
	for i := range 1200 {
		r := model.UsageRecord{At: now.Add(-time.Duration(i) * time.Second), UserID: ann, Kind: model.KindChat,
			Model: "m/a", Status: model.UsageStatusOK, LatencyMS: 10, PromptTokens: 2, CompletionTokens: 3}
		if i%4 == 0 {
			r.UserID, r.Model, r.Status, r.Cost = bob, "m/b", "502", &cost
		}
		batch = append(batch, r)
	}
	old := model.UsageRecord{At: now.Add(-48 * time.Hour), UserID: ann, Kind: model.KindText, Model: "m/old", Status: model.UsageStatusOK}
	if err := e.s.InsertUsage(e.ctx, append(batch, old)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.InsertUsage(e.ctx, nil); err != nil {
		t.Fatalf("an empty batch: %v", err)
	}

	stats, err := e.s.AIStats(e.ctx, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantA, wantB := model.ModelUsage{Model: "m/a", Requests: 900, Tokens: 4500}, model.ModelUsage{Model: "m/b", Requests: 300, Tokens: 1500}
	if stats.Requests != 1200 || len(stats.ByModel) != 2 || stats.ByModel[0] != wantA || stats.ByModel[1] != wantB {
		t.Fatalf("stats %+v", stats)
	}

	byUser, err := e.s.UsageReport(e.ctx, now.Add(-72*time.Hour), model.UsageByUser)
	if err != nil {
		t.Fatal(err)
	}
	if len(byUser) != 2 || byUser[0].Key != ann.String() || byUser[0].Requests != 901 || byUser[0].Errors != 0 {
		t.Fatalf("by user %+v", byUser)
	}
	if b := byUser[1]; b.Key != bob.String() || b.Errors != 300 || b.Cost != 150 || b.AvgLatencyMS != 10 || b.PromptTokens != 600 || b.CompletionTokens != 900 {
		t.Fatalf("bob's row %+v", b)
	}
	byModel, _ := e.s.UsageReport(e.ctx, now.Add(-72*time.Hour), model.UsageByModel)
	if len(byModel) != 3 || byModel[0].Key != "m/a" || byModel[2].Key != "m/old" {
		t.Fatalf("by model %+v", byModel)
	}
	byDay, err := e.s.UsageReport(e.ctx, now.Add(-72*time.Hour), model.UsageByDay)
	if err != nil {
		t.Fatal(err)
	}
	last := byDay[len(byDay)-1]
	if len(byDay) < 2 || byDay[0].Key != now.Format("2006-01-02") || last.Key != now.Add(-48*time.Hour).Format("2006-01-02") || last.Requests != 1 {
		t.Fatalf("by day (newest first) %+v", byDay)
	}
	if _, err := e.s.UsageReport(e.ctx, now, "week"); err == nil {
		t.Fatal("an unknown grouping was accepted")
	}
}

func videoJobs(t *testing.T, e *env) {
	owner, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	now := e.clk.Now()
	var ids []uuid.UUID
	for i := range 3 {
		j := &model.VideoJob{UserID: owner, UpstreamID: fmt.Sprintf("job-%d", i), PollingURL: "/api/v1/videos/x",
			Status: "pending", Model: "google/veo-3.1", Prompt: "a duck", Params: `{"duration":8}`,
			CreatedAt: now.Add(time.Duration(i) * time.Second), UpdatedAt: now}
		if err := e.s.CreateVideoJob(e.ctx, j); err != nil {
			t.Fatal(err)
		}
		if j.ID == uuid.Nil {
			t.Fatal("a new job got no id")
		}
		ids = append(ids, j.ID)
	}
	if err := e.s.InsertUsage(e.ctx, []model.UsageRecord{{At: now, UserID: owner, Kind: model.KindVideo, Model: "google/veo-3.1",
		Status: model.UsageStatusOK, GenerationID: "gen-1"}}); err != nil {
		t.Fatal(err)
	}

	fresh, err := e.s.VideoJob(e.ctx, ids[0])
	if err != nil || fresh.Status != "pending" || fresh.Params != `{"duration":8}` || fresh.Cost != nil || fresh.PolledAt != nil || fresh.UserID != owner {
		t.Fatalf("new job %+v, %v", fresh, err)
	}
	cost, polled := 0.4, now.Add(time.Second)
	done := fresh
	done.Status, done.Cost, done.PolledAt, done.UpdatedAt, done.GenerationID = "completed", &cost, &polled, polled, "gen-1"
	if err := e.s.UpdateVideoJob(e.ctx, done); err != nil {
		t.Fatal(err)
	}
	failed, _ := e.s.VideoJob(e.ctx, ids[1])
	failed.Status, failed.Error = "in_progress", ""
	if err := e.s.UpdateVideoJob(e.ctx, failed); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UpdateVideoJob(e.ctx, model.VideoJob{ID: uuid.Must(uuid.NewV7()), Status: "failed"}); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("updating an unknown job: %v, want ErrNotFound", err)
	}

	page, total, err := e.s.VideoJobs(e.ctx, owner, 2, 0)
	if err != nil || total != 3 || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("first page %+v, total %d, %v", page, total, err)
	}
	if page, _, _ = e.s.VideoJobs(e.ctx, owner, 2, 2); len(page) != 1 || page[0].ID != ids[0] {
		t.Fatalf("second page %+v", page)
	}
	if list, n, _ := e.s.VideoJobs(e.ctx, other, 10, 0); n != 0 || len(list) != 0 {
		t.Fatalf("another user sees %d jobs", n)
	}
	got, err := e.s.VideoJob(e.ctx, ids[0])
	if err != nil || got.Status != "completed" || got.Cost == nil || *got.Cost != 0.4 || got.PolledAt == nil || !got.PolledAt.Equal(polled) {
		t.Fatalf("completed job %+v, %v", got, err)
	}
	unfinished, err := e.s.UnfinishedVideoJobs(e.ctx, "pending", "in_progress")
	if err != nil || len(unfinished) != 2 || unfinished[0].ID != ids[1] || unfinished[1].ID != ids[2] {
		t.Fatalf("unfinished (oldest first) %+v, %v", unfinished, err)
	}
	report, err := e.s.UsageReport(e.ctx, now.Add(-time.Hour), model.UsageByModel)
	if err != nil || len(report) != 1 || report[0].Cost != 0.4 {
		t.Fatalf("the video's cost did not reach its usage record: %+v, %v", report, err)
	}
	if _, err := e.s.VideoJob(e.ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown job: %v, want ErrNotFound", err)
	}
}

func ping(t *testing.T, e *env) {
	if d, err := e.s.Ping(e.ctx); err != nil || d <= 0 {
		t.Fatalf("ping: %v, %v", d, err)
	}
}
