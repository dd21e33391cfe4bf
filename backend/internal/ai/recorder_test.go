package ai

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/store/duckdb"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// batchLog is a UsageWriter that remembers the batches it was given and can
// be told to fail.
type batchLog struct {
	mu      sync.Mutex
	batches [][]model.UsageRecord
	failing int // fail this many more writes
}

func (b *batchLog) InsertUsage(_ context.Context, records []model.UsageRecord) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failing > 0 {
		b.failing--
		return errors.New("database unavailable")
	}
	b.batches = append(b.batches, append([]model.UsageRecord(nil), records...))
	return nil
}

func (b *batchLog) sizes() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for _, batch := range b.batches {
		out = append(out, len(batch))
	}
	return out
}

func (b *batchLog) total() int {
	n := 0
	for _, s := range b.sizes() {
		n += s
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func record(modelID string) model.UsageRecord {
	return model.UsageRecord{At: time.Now(), UserID: uuid.New(), Kind: model.KindChat, Model: modelID, Status: model.UsageStatusOK}
}

func TestRecorderCommitsEachRecordBeforeReturning(t *testing.T) {
	log := &batchLog{}
	r := NewRecorder(log, RecorderOptions{RetryInterval: time.Hour})
	defer r.Close()
	for i := range 3 {
		r.Record(context.Background(), record("m"))
		if log.total() != i+1 {
			t.Fatalf("after Record %d: %d records stored", i+1, log.total())
		}
	}
}

func TestRecorderWritesEvenWhenTheCallersContextEnded(t *testing.T) {
	log := &batchLog{}
	r := NewRecorder(log, RecorderOptions{RetryInterval: time.Hour})
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client went away
	r.Record(ctx, record("m"))
	if log.total() != 1 {
		t.Fatal("the record of a call whose client left was not written")
	}
}

func TestRecorderKeepsRecordsWhileWritesFail(t *testing.T) {
	log := &batchLog{failing: 6}
	r := NewRecorder(log, RecorderOptions{RetryInterval: 10 * time.Millisecond})
	defer r.Close()
	for i := range 5 {
		r.Record(context.Background(), record(string(rune('a'+i))))
	}
	if r.Pending() != 5 {
		t.Fatalf("%d records wait for a retry, want 5", r.Pending())
	}
	waitFor(t, "a retry after the failures", func() bool { return log.total() == 5 })
	if first := log.batches[0]; first[0].Model != "a" || first[4].Model != "e" {
		t.Fatalf("records out of order after retries: %+v", first)
	}
}

func TestRecorderRetriesTheRestOnClose(t *testing.T) {
	log := &batchLog{failing: 1}
	r := NewRecorder(log, RecorderOptions{RetryInterval: time.Hour})
	r.Record(context.Background(), record("m"))
	r.Close()
	r.Close() // twice is fine
	if log.total() != 1 {
		t.Fatalf("%d records written, want the failed one retried on close", log.total())
	}
}

// BenchmarkRecorderIntoDuckDB measures usage records committed through the
// recorder into a real DuckDB file by concurrent calls, the way the gateway
// writes them: ns/op is a call's wait, cpu-ns/op the process CPU time a
// record costs (concurrent calls share commits).
func BenchmarkRecorderIntoDuckDB(b *testing.B) {
	for _, callers := range []int{1, 50} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			st, err := duckdb.Open(context.Background(), filepath.Join(b.TempDir(), "bench.duckdb"), duckdb.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			r := NewRecorder(st, RecorderOptions{})
			rec := record("openai/gpt-4o-mini")
			cpuBefore := processCPU(b)
			b.SetParallelism(callers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r.Record(context.Background(), rec)
				}
			})
			r.Close()
			b.ReportMetric(float64((processCPU(b)-cpuBefore).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the user and system CPU time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestRecorderFlushRetriesNow(t *testing.T) {
	log := &batchLog{failing: 1}
	r := NewRecorder(log, RecorderOptions{RetryInterval: time.Hour})
	defer r.Close()
	r.Record(context.Background(), record("m"))
	r.Flush(context.Background())
	if log.total() != 1 {
		t.Fatalf("%d records written after Flush", log.total())
	}
}
