package duckdb

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// BenchmarkRotateParallel measures refresh rotations through the group-commit
// writer with many concurrent callers.
func BenchmarkRotateParallel(b *testing.B) {
	s := openStoreAt(b, "", nil)
	ctx := context.Background()
	u := mustCreateUser(b, s, "bench@example.com", "user")
	var seq atomic.Int64
	b.SetParallelism(25)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		cur := fmt.Sprintf("start-%d", seq.Add(1))
		if _, err := s.CreateSession(ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: cur, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			next := fmt.Sprintf("t-%d", seq.Add(1))
			if _, err := s.Rotate(ctx, model.Rotation{OldHash: cur, NewHash: next, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				b.Error(err)
				return
			}
			cur = next
		}
	})
	b.StopTimer()
	commits, writes := s.WriterStats()
	b.ReportMetric(float64(writes)/float64(commits), "writes/commit")
}

// BenchmarkEmptyWrite is the writer's floor: a commit with nothing in it.
func BenchmarkEmptyWrite(b *testing.B) {
	s := openStoreAt(b, "", nil)
	ctx := context.Background()
	for b.Loop() {
		if err := s.write(ctx, func(*Tx) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateSession is a sign-in's write: one appended row and a commit.
func BenchmarkCreateSession(b *testing.B) {
	s := openStoreAt(b, "", nil)
	ctx := context.Background()
	u := mustCreateUser(b, s, "bench@example.com", "user")
	var seq atomic.Int64
	for b.Loop() {
		if _, err := s.CreateSession(ctx, model.NewSession{UserID: u.ID, UserUpdatedAt: u.UpdatedAt, TokenHash: fmt.Sprintf("s-%d", seq.Add(1)), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUserByEmail is the sign-in's read: a point query on the unique
// email index.
func BenchmarkUserByEmail(b *testing.B) {
	s := openStoreAt(b, "", nil)
	ctx := context.Background()
	mustCreateUser(b, s, "bench@example.com", "user")
	for b.Loop() {
		if _, err := s.UserByEmail(ctx, "bench@example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
