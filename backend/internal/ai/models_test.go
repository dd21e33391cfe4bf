package ai

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
	"github.com/duckgate/duckgate/backend/internal/openrouter"
)

func TestCatalogIsCachedForItsTTLAndFailuresAreNot(t *testing.T) {
	fake := fakeopenrouter.New(fakeopenrouter.Options{APIKey: "k"})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	client := openrouter.New(openrouter.Config{BaseURL: srv.URL + "/api/v1", APIKey: "k"})
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cache := newCatalogCache(client, time.Minute, func() time.Time { return time.Unix(0, now.Load()) }, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	fetches := func() int {
		n := 0
		for _, r := range fake.Requests() {
			if strings.HasSuffix(r.Path, "/models") && !strings.Contains(r.Path, "videos") && !strings.Contains(r.Path, "images") {
				n++
			}
		}
		return n
	}

	fake.Fail(fakeopenrouter.FailureRule{Mode: fakeopenrouter.FailServerError, Path: "/models", Times: 1})
	if _, err := cache.get(ctx); err == nil {
		t.Fatal("a failed fetch succeeded")
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cat, err := cache.get(ctx)
			if err != nil || len(cat.models) == 0 || len(cat.videoModels) == 0 || len(cat.imageModels) == 0 {
				t.Errorf("catalogue %v, %v", cat, err)
			}
		}()
	}
	wg.Wait()
	if n := fetches(); n != 2 {
		t.Fatalf("%d fetches: want the failed one and one for 50 concurrent misses", n)
	}
	// getAfter moves the clock by d, asks the cache, and checks how many
	// fetches upstream has seen in all.
	getAfter := func(d time.Duration, wantFetches int, why string) {
		t.Helper()
		now.Add(int64(d))
		_, _ = cache.get(ctx)
		if n := fetches(); n != wantFetches {
			t.Fatalf("%d fetches, want %d: %s", n, wantFetches, why)
		}
	}
	getAfter(59*time.Second, 2, "nothing is fetched within the TTL")
	getAfter(2*time.Second, 3, "the catalogue is fetched again after the TTL")

	// A failed refresh keeps the last good catalogue, and waits staleRetry
	// before it asks upstream again.
	now.Add(int64(2 * time.Minute))
	fake.Fail(fakeopenrouter.FailureRule{Mode: fakeopenrouter.FailServerError, Path: "/models", Times: 1})
	if cat, err := cache.get(ctx); err != nil || len(cat.models) == 0 {
		t.Fatalf("failed refresh: catalogue %v, %v; want the previous one", cat, err)
	}
	getAfter(staleRetry-time.Second, 4, "a failed refresh is not retried before staleRetry")
	getAfter(2*time.Second, 5, "a failed refresh is retried after staleRetry")
}

func TestACallerLeavingDoesNotFailTheSharedFetch(t *testing.T) {
	fake := fakeopenrouter.New(fakeopenrouter.Options{APIKey: "k"})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	cache := newCatalogCache(openrouter.New(openrouter.Config{BaseURL: srv.URL, APIKey: "k"}), time.Minute, time.Now,
		slog.New(slog.DiscardHandler))
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cache.get(gone); err == nil {
		t.Fatal("a canceled caller got an answer")
	}
	if _, err := cache.get(context.Background()); err != nil {
		t.Fatalf("the next caller: %v", err)
	}
}
