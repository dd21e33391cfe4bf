package background

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// handLeader grants one job's leadership when told to, and can take it away.
type handLeader struct {
	grant chan struct{}
	mu    sync.Mutex
	lose  context.CancelFunc
}

func (h *handLeader) Lead(ctx context.Context, _ string) (context.Context, func(), error) {
	select {
	case <-h.grant:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	held, cancel := context.WithCancel(ctx)
	h.mu.Lock()
	h.lose = cancel
	h.mu.Unlock()
	return held, cancel, nil
}

func (h *handLeader) takeAway() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lose()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A job's rounds run only while its process leads it, stop when the
// leadership is lost, and start again when it comes back.
func TestRoundsRunOnlyWhileLeading(t *testing.T) {
	leader := &handLeader{grant: make(chan struct{})}
	metrics := NewMetrics()
	r := NewRunner(leader, Options{Metrics: metrics, Retry: 10 * time.Millisecond})
	var rounds atomic.Int32
	stop := r.Every("purge", 5*time.Millisecond, func(context.Context) { rounds.Add(1) })
	defer stop()

	time.Sleep(50 * time.Millisecond)
	if rounds.Load() != 0 || testutil.ToFloat64(metrics.leading.WithLabelValues("purge")) != 0 {
		t.Fatalf("%d rounds ran without leadership", rounds.Load())
	}
	leader.grant <- struct{}{}
	eventually(t, "rounds while leading", func() bool { return rounds.Load() >= 3 })
	if testutil.ToFloat64(metrics.leading.WithLabelValues("purge")) != 1 {
		t.Fatal("the leader gauge is not 1 while leading")
	}
	leader.takeAway()
	eventually(t, "the gauge to drop", func() bool { return testutil.ToFloat64(metrics.leading.WithLabelValues("purge")) == 0 })
	after := rounds.Load()
	time.Sleep(50 * time.Millisecond)
	if rounds.Load() > after+1 {
		t.Fatalf("rounds went on after the leadership was lost: %d → %d", after, rounds.Load())
	}
	leader.grant <- struct{}{} // another replica died: the job comes back
	eventually(t, "rounds after leading again", func() bool { return rounds.Load() >= after+3 })
	if n := testutil.ToFloat64(metrics.runs.WithLabelValues("purge")); int32(n) != rounds.Load() {
		t.Fatalf("runs counter %v, rounds %d", n, rounds.Load())
	}
}

// Stop ends the job and waits for a round in progress.
func TestStopWaitsForTheRound(t *testing.T) {
	r := NewRunner(Always{}, Options{})
	started, finished := make(chan struct{}), atomic.Bool{}
	var once sync.Once
	stop := r.Every("backup", time.Millisecond, func(ctx context.Context) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		finished.Store(true)
	})
	<-started
	stop()
	if !finished.Load() {
		t.Fatal("stop returned before the round in progress ended")
	}
}

func TestMetricsRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, c := range NewMetrics().Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
}
