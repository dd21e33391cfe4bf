package e2e

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// TestEveryCompletedAICallKeepsItsUsageRecordThroughSIGKILL kills the
// backend while chat calls (whole and streamed) are running, restarts it on
// the same file, and finds a successful usage record for every call whose
// answer had completed: a record is committed before the JSON body or the
// stream's [DONE] leaves.
func TestEveryCompletedAICallKeepsItsUsageRecordThroughSIGKILL(t *testing.T) {
	fake := StartFake(t)
	dir := t.TempDir()
	aiEnv := []string{"OPENROUTER_BASE_URL=" + fake.FakeBaseURL(), "OPENROUTER_API_KEY=" + FakeKey}
	b := StartBackend(t, dir, aiEnv...)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	user := signIn(t, client.New(b.URL), AdminEmail, AdminPassword)
	req := api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "count me"}}}

	var completed atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if w%2 == 0 {
					if _, err := user.Chat(ctx, req); err == nil {
						completed.Add(1)
					}
					continue
				}
				stream, err := user.ChatStream(ctx, req)
				if err != nil {
					continue
				}
				for {
					_, err := stream.Next()
					if errors.Is(err, io.EOF) {
						completed.Add(1)
						break
					}
					if err != nil {
						break
					}
				}
				stream.Close()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	b.Kill(t) // mid-flight: calls are waiting on upstream and on commits
	stop()
	wg.Wait()
	if completed.Load() < 50 {
		t.Fatalf("only %d calls completed before the kill: too few to tell", completed.Load())
	}

	b = StartBackend(t, dir, aiEnv...)
	admin := signIn(t, client.New(b.URL), AdminEmail, AdminPassword)
	report, err := admin.Usage(context.Background(), client.UsageParams{Days: 1, GroupBy: "model"})
	if err != nil {
		t.Fatal(err)
	}
	var ok int64
	for _, row := range report.Rows {
		ok += int64(row.Requests - row.Errors)
	}
	if ok < completed.Load() {
		t.Fatalf("%d completed calls, but only %d successful usage records survived the kill", completed.Load(), ok)
	}
	t.Logf("%d calls completed before the kill; %d successful records after it", completed.Load(), ok)
}
