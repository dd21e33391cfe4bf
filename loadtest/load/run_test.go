package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func get(url string) RequestFunc {
	return func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	}
}

func TestRunRespectsDurationAndMeasuresClosedLoopRate(t *testing.T) {
	const delay = 10 * time.Millisecond
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
	}))
	defer server.Close()

	began := time.Now()
	res := Run(context.Background(), Options{Connections: 4, WarmUp: 100 * time.Millisecond,
		Duration: 400 * time.Millisecond}, func(int) Worker { return get(server.URL) })
	took := time.Since(began)

	if took < 500*time.Millisecond || took > 900*time.Millisecond {
		t.Errorf("run took %v, want warm-up + duration = 500ms (+ one request)", took)
	}
	// A closed loop of 4 workers against a 10 ms server does at most
	// 4/10ms = 400 requests per second.
	if res.RPS < 150 || res.RPS > 400 {
		t.Errorf("rps = %.0f, want close to 400", res.RPS)
	}
	if res.Latency.P50 < delay || res.Latency.P50 > 3*delay {
		t.Errorf("p50 = %v, want just above %v", res.Latency.P50, delay)
	}
	if res.Failures != 0 || res.ByStatus[200] != res.Requests || res.Successes != res.Requests {
		t.Errorf("result = %+v, want only successful 200s", res)
	}
}

func TestRunCountsStatusesAndFailures(t *testing.T) {
	var served atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1)%4 == 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer server.Close()

	res := Run(context.Background(), Options{Connections: 1, Duration: 200 * time.Millisecond},
		func(int) Worker { return get(server.URL) })

	if res.Requests < 20 {
		t.Fatalf("only %d requests in 200ms", res.Requests)
	}
	// With no warm-up everything served counts, except at most the one
	// request in flight when time ran out.
	if n := uint64(served.Load()); res.Requests != n && res.Requests != n-1 {
		t.Errorf("counted %d requests, server answered %d", res.Requests, n)
	}
	if got, want := res.ByStatus[503], res.Requests/4; got < want-1 || got > want+1 {
		t.Errorf("503s = %d of %d, want every fourth", got, res.Requests)
	}
	if res.Failures != res.ByStatus[503] || res.Successes != res.ByStatus[200] {
		t.Errorf("failures %d successes %d, by status %v", res.Failures, res.Successes, res.ByStatus)
	}
	if len(res.FailureSamples) != 1 || res.FailureSamples[0] != "status 503" {
		t.Errorf("failure samples = %q, want the one distinct message", res.FailureSamples)
	}
}

// counter is a stateful worker: each request carries the number the server
// answered last time, like a rotating refresh token.
type counter struct {
	url  string
	next string
	bad  int
}

func (c *counter) Request(ctx context.Context) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, c.url+"?n="+c.next, nil)
}

func (c *counter) Check(status int, body []byte) error {
	if status != http.StatusOK {
		c.bad++
		return fmt.Errorf("status %d", status)
	}
	c.next = string(body)
	return nil
}

func TestRunGivesEachWorkerItsOwnState(t *testing.T) {
	// The server answers n+1 and refuses a number it already saw, so any
	// mix-up between workers' states shows up as a 409.
	var mu sync.Mutex
	seen := map[string]bool{}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := r.URL.Query().Get("n")
		mu.Lock()
		reused := seen[n]
		seen[n] = true
		mu.Unlock()
		if reused {
			w.WriteHeader(http.StatusConflict)
			return
		}
		v, _ := strconv.Atoi(n[2:])
		fmt.Fprintf(w, "%s%d", n[:2], v+1)
	}))
	defer server.Close()

	workers := make([]*counter, 5)
	res := Run(context.Background(), Options{Connections: 5, Duration: 200 * time.Millisecond},
		func(i int) Worker {
			workers[i] = &counter{url: server.URL, next: fmt.Sprintf("w%d0", i)}
			return workers[i]
		})
	if res.Failures != 0 || res.Requests < 50 {
		t.Fatalf("result %+v, want many requests and no conflict", res)
	}
	for i, w := range workers {
		if w.next == fmt.Sprintf("w%d0", i) {
			t.Errorf("worker %d never advanced", i)
		}
	}
}

func TestRunStopsAWorkerThatCannotBuildRequests(t *testing.T) {
	broken := RequestFunc(func(context.Context) (*http.Request, error) { return nil, errors.New("no token") })
	began := time.Now()
	res := Run(context.Background(), Options{Connections: 3, Duration: time.Second, WarmUp: time.Second},
		func(int) Worker { return broken })
	if time.Since(began) > 100*time.Millisecond {
		t.Errorf("broken workers kept running for %v", time.Since(began))
	}
	if res.Failures != 3 || res.ByStatus[0] != 3 || res.Successes != 0 {
		t.Errorf("result %+v, want the 3 failed builds counted as failures without an answer", res)
	}
}

func TestRunCountsTimeoutsAsFailuresWithoutStatus(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer server.Close()
	res := Run(context.Background(), Options{Connections: 2, Duration: 300 * time.Millisecond,
		Timeout: 50 * time.Millisecond}, func(int) Worker { return get(server.URL) })
	if res.Requests < 4 || res.Failures != res.Requests || res.ByStatus[0] != res.Requests {
		t.Errorf("result %+v, want only timed-out requests", res)
	}
	if len(res.FailureSamples) == 0 {
		t.Error("no failure sample for the timeouts")
	}
}

func TestRunStreamMeasuresFirstEventAndGaps(t *testing.T) {
	const firstAfter, gap, events = 40 * time.Millisecond, 15 * time.Millisecond, 4
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		flush := func() { http.NewResponseController(w).Flush() }
		io.WriteString(w, ": comment sent at once, not an event a user sees\n\n")
		flush()
		time.Sleep(firstAfter)
		for i := range events {
			if i > 0 {
				time.Sleep(gap)
			}
			fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
			flush()
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer server.Close()

	var bodies []string
	res := Run(context.Background(), Options{Connections: 1, Duration: 400 * time.Millisecond, Stream: true},
		func(int) Worker {
			return &checkBody{req: get(server.URL), check: func(b []byte) { bodies = append(bodies, string(b)) }}
		})
	if res.Requests < 3 || res.Failures != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.TTFB.Count != res.Requests || res.TTFB.P50 < firstAfter || res.TTFB.P50 > firstAfter+15*time.Millisecond {
		t.Errorf("ttfb %+v, want one per stream, just above %v (the comment must not count)", res.TTFB, firstAfter)
	}
	// Each stream has 5 data events ([DONE] included), so 4 gaps: three of
	// ~gap and the immediate [DONE].
	if res.ChunkGap.Count != 4*res.Requests {
		t.Errorf("%d gaps for %d streams, want 4 each", res.ChunkGap.Count, res.Requests)
	}
	if p90 := res.ChunkGap.P90; p90 < gap || p90 > gap+10*time.Millisecond {
		t.Errorf("gap p90 = %v, want just above %v", p90, gap)
	}
	if len(bodies) == 0 || bodies[0][len(bodies[0])-14:] != "data: [DONE]\n\n" {
		t.Errorf("Check did not see the whole stream: %q", bodies)
	}
}

type checkBody struct {
	req   RequestFunc
	check func([]byte)
}

func (c *checkBody) Request(ctx context.Context) (*http.Request, error) { return c.req(ctx) }
func (c *checkBody) Check(status int, body []byte) error {
	c.check(body)
	return Want2xx(status)
}

func TestBurstSendsAllRequestsAtOnce(t *testing.T) {
	const n = 30
	// The server holds every request until all n are in: the burst only
	// finishes if they really are concurrent.
	var arrived sync.WaitGroup
	arrived.Add(n)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait()
	}))
	defer server.Close()

	res := Burst(context.Background(), Options{Connections: n, Timeout: 5 * time.Second},
		func(int) Worker { return get(server.URL) })
	if res.Requests != n || res.Successes != n {
		t.Errorf("result %+v, want %d successes", res, n)
	}
	if res.Elapsed <= 0 || res.Elapsed > 5*time.Second {
		t.Errorf("elapsed %v", res.Elapsed)
	}
}

func TestCompareAlternatesBetweenVariants(t *testing.T) {
	// Each server notes the order in which variants were served.
	var mu sync.Mutex
	var order []byte
	serve := func(name byte, delay time.Duration) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if len(order) == 0 || order[len(order)-1] != name {
				order = append(order, name)
			}
			mu.Unlock()
			time.Sleep(delay)
		}))
	}
	fast, slow := serve('a', 2*time.Millisecond), serve('b', 6*time.Millisecond)
	defer fast.Close()
	defer slow.Close()

	a, b := Compare(context.Background(), Options{Connections: 2, Duration: 400 * time.Millisecond,
		WarmUp: 20 * time.Millisecond}, 4, func(int) Worker { return get(fast.URL) },
		func(int) Worker { return get(slow.URL) })

	// Warm-up a, warm-up b, then four rounds of a then b.
	if string(order) != "ababababab" {
		t.Errorf("variants ran in the order %q, want warm-ups then alternating rounds", order)
	}
	if a.Elapsed != 400*time.Millisecond || b.Elapsed != 400*time.Millisecond {
		t.Errorf("measured %v and %v, want the duration each", a.Elapsed, b.Elapsed)
	}
	if a.Latency.P50 < 2*time.Millisecond || b.Latency.P50 < 6*time.Millisecond || a.Latency.P50 >= b.Latency.P50 {
		t.Errorf("p50 a = %v, b = %v: each variant's latency must be its own", a.Latency.P50, b.Latency.P50)
	}
	if a.RPS <= b.RPS || a.Failures+b.Failures != 0 {
		t.Errorf("rps a = %.0f, b = %.0f, failures %d+%d", a.RPS, b.RPS, a.Failures, b.Failures)
	}
}

func TestCompareAllRunsEveryVariantInEachRound(t *testing.T) {
	var mu sync.Mutex
	var order []byte
	serve := func(name byte, delay time.Duration) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if len(order) == 0 || order[len(order)-1] != name {
				order = append(order, name)
			}
			mu.Unlock()
			time.Sleep(delay)
		}))
	}
	servers := []*httptest.Server{serve('a', 2*time.Millisecond), serve('b', 4*time.Millisecond), serve('c', 8*time.Millisecond)}
	var variants []func(int) Worker
	for _, s := range servers {
		defer s.Close()
		variants = append(variants, func(int) Worker { return get(s.URL) })
	}

	results := CompareAll(context.Background(), Options{Connections: 1, Duration: 300 * time.Millisecond,
		WarmUp: 20 * time.Millisecond}, 3, variants...)

	if string(order) != "abcabcabcabc" {
		t.Errorf("variants ran in the order %q, want warm-ups then a, b, c in each round", order)
	}
	for i, res := range results {
		want := time.Duration(2<<i) * time.Millisecond
		if res.Elapsed != 300*time.Millisecond || res.Latency.P50 < want || res.Latency.P50 > 3*want || res.Failures != 0 {
			t.Errorf("variant %d: elapsed %v, p50 %v (want ≥ %v), %d failures", i, res.Elapsed, res.Latency.P50, want, res.Failures)
		}
	}
}
