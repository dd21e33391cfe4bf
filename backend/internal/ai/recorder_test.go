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

func TestRecorderWritesFullBatchesAtOnceAndTheRestOnClose(t *testing.T) {
	log := &batchLog{}
	r := NewRecorder(log, RecorderOptions{Interval: time.Hour, MaxBatch: 10})
	for range 25 {
		r.Record(record("m"))
	}
	waitFor(t, "two full batches", func() bool { return log.total() >= 20 })
	r.Close()
	if got := log.sizes(); len(got) != 3 || got[0] != 10 || got[1] != 10 || got[2] != 5 {
		t.Fatalf("batches %v, want [10 10 5]", got)
	}
}

func TestRecorderWritesWithinTheInterval(t *testing.T) {
	log := &batchLog{}
	r := NewRecorder(log, RecorderOptions{Interval: 20 * time.Millisecond, MaxBatch: 100})
	defer r.Close()
	for range 3 {
		r.Record(record("m"))
	}
	waitFor(t, "the interval's flush", func() bool { return log.total() == 3 })
	if got := log.sizes(); len(got) != 1 {
		t.Fatalf("three records took %d writes, want one", len(got))
	}
}

func TestRecorderKeepsRecordsWhileWritesFail(t *testing.T) {
	log := &batchLog{failing: 3}
	r := NewRecorder(log, RecorderOptions{Interval: 10 * time.Millisecond, MaxBatch: 100})
	defer r.Close()
	for i := range 5 {
		r.Record(record(string(rune('a' + i))))
	}
	waitFor(t, "a write after the failures", func() bool { return log.total() == 5 })
	if first := log.batches[0]; first[0].Model != "a" || first[4].Model != "e" {
		t.Fatalf("records out of order after retries: %+v", first)
	}
}

func TestRecorderLosesNothingOnACleanStop(t *testing.T) {
	log := &batchLog{}
	r := NewRecorder(log, RecorderOptions{Interval: time.Hour, MaxBatch: 64})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				r.Record(record("m"))
			}
		}()
	}
	wg.Wait()
	r.Close()
	r.Record(record("late")) // a call finishing during shutdown is written directly
	r.Close()                // twice is fine
	if got := log.total(); got != 4001 {
		t.Fatalf("%d records written, want 4001", got)
	}
}

// BenchmarkRecorderIntoDuckDB measures usage records going through the
// recorder into a real DuckDB file, the way the gateway writes them, with the
// default batch and smaller ones: cpu-ns/op is the process CPU time a record
// costs (the writes run off the request path, but on the same cores).
func BenchmarkRecorderIntoDuckDB(b *testing.B) {
	for _, batch := range []int{256, 1024, DefaultFlushRecords} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			st, err := duckdb.Open(context.Background(), filepath.Join(b.TempDir(), "bench.duckdb"), duckdb.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			r := NewRecorder(st, RecorderOptions{MaxBatch: batch})
			rec := record("openai/gpt-4o-mini")
			cpuBefore := processCPU(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r.Record(rec)
				}
			})
			r.Close() // the flush is part of the cost
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

func TestRecorderFlushWritesNow(t *testing.T) {
	log := &batchLog{}
	r := NewRecorder(log, RecorderOptions{Interval: time.Hour, MaxBatch: 100})
	r.Record(record("m"))
	r.Flush(context.Background())
	if log.total() != 1 {
		t.Fatalf("%d records written after Flush", log.total())
	}
	r.Close()
	r.Flush(context.Background()) // after Close: returns at once
}
