package main

// The AI gateway scenarios of issue 3: the backend's /ai/chat against the
// fake OpenRouter called directly, so what is measured is what the gateway
// adds, and against a do-nothing hop (the floor, see floor.go) measured in
// the same rounds, so what is judged is what the gateway adds beyond any
// extra process in the path. Until the backend has /ai/chat they are listed
// as skipped.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
	"github.com/duckgate/duckgate/shared/api"
)

// Targets of the gateway, relative to the floor (a do-nothing hop measured
// in the same rounds): at one connection its added p50 may exceed the
// floor's by chatOverFloorMax, at 50 its throughput must reach
// chatShareOfFloor of the floor's, and a stream's first event may come
// streamOverFloorMax after the floor's.
const (
	chatOverFloorMax   = 120 * time.Microsecond
	chatShareOfFloor   = 0.90
	streamOverFloorMax = 150 * time.Microsecond
	streamAddedGapMax  = 100 * time.Microsecond
	openStreams        = 500
	openStreamsMaxRSS  = 150 << 20
	benchModel         = "openai/gpt-4o-mini"
	shortStreamWords   = 10 // ~12 chunks, fakeChunkDelay apart
	longStreamWords    = 50 // ~1 s per stream: all 500 are open at once
	// streamTTFBTime stretches the first-event comparisons (× -duration),
	// run on one-word streams: a median of a few hundred first events
	// instead of a few dozen.
	streamTTFBTime       = 3
	gatewayMissingReason = "backend has no /ai/chat yet"
)

// gatewayState remembers whether the backend has the gateway.
type gatewayState struct {
	missing string // why the scenarios are skipped; empty when present
}

// gatewayMissing probes POST /ai/chat once: 404 means the gateway has not
// landed, and the scenarios are skipped.
func (b *bench) gatewayMissing(ctx context.Context) string {
	if b.gateway != nil {
		return b.gateway.missing
	}
	b.gateway = &gatewayState{}
	users, err := b.ensureUsers(ctx)
	if err != nil {
		b.gateway.missing = "no users: " + err.Error()
		return b.gateway.missing
	}
	status, _, err := call(ctx, b.client, http.MethodPost, b.backend.url+"/ai/chat", users[0].tokens.AccessToken,
		chatBody(1, false))
	switch {
	case err != nil:
		b.gateway.missing = "probe of /ai/chat failed: " + err.Error()
	case status == http.StatusNotFound:
		b.gateway.missing = gatewayMissingReason
	}
	return b.gateway.missing
}

// chatBody is the bench's chat request: the fake answers by quoting the
// last user message, one chunk per word, so words sets the stream length.
func chatBody(words int, stream bool) api.ChatRequest {
	text := strings.TrimSpace(strings.Repeat("bench ", words))
	return api.ChatRequest{Model: benchModel, Stream: stream,
		Messages: []api.ChatMessage{{Role: api.ChatRoleUser, Content: text}}}
}

// chatWorker sends one chat request shape and checks the answer is a
// complete chat: for streams, [DONE] reached without an error event.
type chatWorker struct {
	request load.RequestFunc
	stream  bool
}

func (c chatWorker) Request(ctx context.Context) (*http.Request, error) { return c.request(ctx) }

func (c chatWorker) Check(status int, body []byte) error {
	if err := load.Want2xx(status); err != nil {
		return fmt.Errorf("%w: %.200s", err, body)
	}
	if !c.stream {
		return nil
	}
	if bytes.Contains(body, []byte(`data: {"error"`)) {
		return fmt.Errorf("error event in stream: %.300s", body[bytes.Index(body, []byte(`data: {"error"`)):])
	}
	if !bytes.Contains(body, []byte("data: [DONE]")) {
		return fmt.Errorf("stream ended without [DONE] after %d bytes", len(body))
	}
	return nil
}

// direct calls the fake's chat completions the way the backend would.
func (b *bench) direct(words int, stream bool) load.Worker {
	return chatWorker{request: postWith(b.fake.url+"/api/v1/chat/completions", fakeKey, chatBody(words, stream)), stream: stream}
}

// viaBackend calls POST /ai/chat as bench user i.
func (b *bench) viaBackend(i, words int, stream bool) load.Worker {
	token := b.users[i%len(b.users)].tokens.AccessToken
	return chatWorker{request: postWith(b.backend.url+"/ai/chat", token, chatBody(words, stream)), stream: stream}
}

// pair measures the fake directly and the same load through the backend,
// alternating between them.
func (b *bench) pair(ctx context.Context, opts load.Options, words int) (direct, through load.Result) {
	return load.Compare(ctx, opts, compareRounds,
		func(int) load.Worker { return b.direct(words, opts.Stream) },
		func(i int) load.Worker { return b.viaBackend(i, words, opts.Stream) })
}

// trio measures the fake directly, through the floor and through the
// backend, in turn in each round.
func (b *bench) trio(ctx context.Context, opts load.Options, words int, floor *proc) (direct, viaFloor, through load.Result) {
	results := load.CompareAll(ctx, opts, compareRounds,
		func(int) load.Worker { return b.direct(words, opts.Stream) },
		func(int) load.Worker { return b.viaFloor(floor, words, opts.Stream) },
		func(i int) load.Worker { return b.viaBackend(i, words, opts.Stream) })
	return results[0], results[1], results[2]
}

// gatewayAndFloor checks that the gateway is there and starts the floor in
// front of the fake. When either is missing, rows holds a skip or error row
// for each of names.
func (b *bench) gatewayAndFloor(ctx context.Context, names ...string) (floor *proc, rows []row) {
	if why := b.gatewayMissing(ctx); why != "" {
		for _, name := range names {
			rows = append(rows, skipRow(name, why))
		}
		return nil, rows
	}
	floor, err := b.ensureFloor(ctx, b.fake)
	if err != nil {
		for _, name := range names {
			rows = append(rows, errorRow(name, fmt.Errorf("floor: %w", err)))
		}
		return nil, rows
	}
	return floor, nil
}

// runChatLatency compares one non-streamed chat at a time: the gateway's
// added p50 against the floor's.
func (b *bench) runChatLatency(ctx context.Context) []row {
	const name, floorName = "chat-latency", "floor-latency"
	floor, rows := b.gatewayAndFloor(ctx, name, floorName)
	if rows != nil {
		return rows
	}
	direct, viaFloor, through := b.trio(ctx, b.options(1), 1, floor)
	added := through.Latency.P50 - direct.Latency.P50
	floorAdded := viaFloor.Latency.P50 - direct.Latency.P50
	limit := floorAdded + chatOverFloorMax
	return []row{{Scenario: name, Measured: "via backend, 1 conn: " + latencies(through),
		Baseline: "fake directly: " + latencies(direct) + "; do-nothing hop: " + latencies(viaFloor),
		Target:   "added p50 " + fmtMs(added) + " / ≤ floor's " + fmtMs(floorAdded) + " " + fmtMs(chatOverFloorMax) + " = " + fmtMs(limit),
		Verdict:  judge(added <= limit && through.Failures == 0 && direct.Failures == 0 && viaFloor.Failures == 0),
		Values:   map[string]float64{"added_p50_s": added.Seconds(), "floor_added_p50_s": floorAdded.Seconds()},
		Results:  map[string]load.Result{"direct": direct, "floor": viaFloor, "backend": through}},
		floorLatencyRow(floorName, direct, viaFloor, "fake directly", "chat-latency")}
}

// runChatThroughput compares 50 connections of non-streamed chats: the
// gateway's rate against the floor's.
func (b *bench) runChatThroughput(ctx context.Context) []row {
	const name, floorName = "chat-throughput", "floor-throughput"
	floor, rows := b.gatewayAndFloor(ctx, name, floorName)
	if rows != nil {
		return rows
	}
	direct, viaFloor, through := b.trio(ctx, b.options(50), 1, floor)
	share := through.RPS / viaFloor.RPS
	return []row{{Scenario: name, Measured: "via backend, 50 conns: " + fmtRPS(through.RPS) + " (" + latencies(through) + ")",
		Baseline: "do-nothing hop: " + fmtRPS(viaFloor.RPS) + "; fake directly: " + fmtRPS(direct.RPS) +
			" (the backend reaches " + fmtPct(through.RPS/direct.RPS) + " of it)",
		Target:  fmtPct(share) + " of the floor / ≥ " + fmtPct(chatShareOfFloor),
		Verdict: judge(share >= chatShareOfFloor && through.Failures == 0 && viaFloor.Failures == 0),
		Values: map[string]float64{"rps": through.RPS, "floor_rps": viaFloor.RPS, "direct_rps": direct.RPS,
			"share_of_floor": share, "ratio": through.RPS / direct.RPS},
		Results: map[string]load.Result{"direct": direct, "floor": viaFloor, "backend": through}},
		floorThroughputRow(floorName, direct, viaFloor)}
}

// runChatStream compares one stream at a time directly, through the floor
// and through the backend: the first event's delay (judged against the
// floor's), and the gaps between events (with the fake pausing
// fakeChunkDelay between chunks, a gateway that forwards each chunk at once
// shows the same gaps; one that buffers shows gaps near zero next to double
// ones).
func (b *bench) runChatStream(ctx context.Context) []row {
	floor, rows := b.gatewayAndFloor(ctx, "chat-stream", "floor-stream", "chat-stream-gap")
	if rows != nil {
		return rows
	}
	opts := b.options(1)
	opts.Stream = true
	ttfbOpts := opts
	ttfbOpts.Duration *= streamTTFBTime
	direct, viaFloor, through := b.trio(ctx, ttfbOpts, 1, floor)
	addedTTFB := through.TTFB.P50 - direct.TTFB.P50
	floorAdded := viaFloor.TTFB.P50 - direct.TTFB.P50
	limit := floorAdded + streamOverFloorMax
	ttfb := row{Scenario: "chat-stream",
		Measured: fmt.Sprintf("first event via backend: p50 %s (%d streams)", fmtDur(through.TTFB.P50), through.TTFB.Count) + errorsOf(through),
		Baseline: "fake directly: p50 " + fmtDur(direct.TTFB.P50) + "; do-nothing hop: p50 " + fmtDur(viaFloor.TTFB.P50),
		Target:   "added " + fmtMs(addedTTFB) + " / ≤ floor's " + fmtMs(floorAdded) + " " + fmtMs(streamOverFloorMax) + " = " + fmtMs(limit),
		Verdict:  judge(through.Failures == 0 && direct.Failures == 0 && viaFloor.Failures == 0 && addedTTFB <= limit),
		Values:   map[string]float64{"added_ttfb_p50_s": addedTTFB.Seconds(), "floor_added_ttfb_p50_s": floorAdded.Seconds()},
		Results:  map[string]load.Result{"direct": direct, "floor": viaFloor, "backend": through}}
	floorRow := floorStreamRow("floor-stream", direct, viaFloor, "fake directly", "chat-stream")

	direct, through = b.pair(ctx, opts, shortStreamWords)
	ok := through.Failures == 0 && direct.Failures == 0
	added := gapDelay(direct.ChunkGap, through.ChunkGap)
	gap := row{Scenario: "chat-stream-gap",
		Measured: fmt.Sprintf("gaps via backend p50 %s, p90 %s, p99 %s (%d gaps)", fmtDur(through.ChunkGap.P50),
			fmtDur(through.ChunkGap.P90), fmtDur(through.ChunkGap.P99), through.ChunkGap.Count),
		Baseline: fmt.Sprintf("fake directly p50 %s, p90 %s, p99 %s (chunks %s apart)", fmtDur(direct.ChunkGap.P50),
			fmtDur(direct.ChunkGap.P90), fmtDur(direct.ChunkGap.P99), fmtDur(fakeChunkDelay)),
		Target: "median gap shift " + fmtMs(added) + " / ≤ " + fmtMs(streamAddedGapMax) +
			" (p90 " + fmtMs(through.ChunkGap.P90-direct.ChunkGap.P90) + ")",
		Verdict: judge(ok && through.ChunkGap.Count > 0 && added <= streamAddedGapMax),
		Values:  map[string]float64{"added_gap_s": added.Seconds()},
		Results: map[string]load.Result{"direct": direct, "backend": through}}
	return []row{ttfb, floorRow, gap}
}

// gapDelay is how much a chunk is held back on its way, seen from outside:
// the shift of the median gap between events. A constant delay leaves the
// gaps unchanged (it shows in the first event instead), but a gateway that
// holds chunks back and sends them in bunches shifts the median gap far
// from the fake's fixed pause. Higher percentiles are reported, not
// judged: on a shared machine they mostly measure the scheduler.
func gapDelay(direct, through load.Summary) time.Duration {
	d := through.P50 - direct.P50
	return max(d, -d)
}

// errorsOf mentions failures, if any.
func errorsOf(r load.Result) string {
	if r.Failures == 0 {
		return ""
	}
	return fmt.Sprintf(", %d of %d failed %s", r.Failures, r.Requests, statusCounts(r))
}

// runChatStreams500 holds 500 streams open through the backend at once.
func (b *bench) runChatStreams500(ctx context.Context) []row {
	const name = "chat-streams-500"
	if why := b.gatewayMissing(ctx); why != "" {
		return []row{skipRow(name, why)}
	}
	before, err := load.RSS(b.backend.pid())
	if err != nil {
		return []row{errorRow(name, err)}
	}
	sampler := load.SampleRSS(b.backend.pid(), 5*time.Millisecond)
	opts := load.Options{Connections: openStreams, Stream: true, Timeout: 60 * time.Second}
	res := load.Burst(ctx, opts, func(i int) load.Worker { return b.viaBackend(i, longStreamWords, true) })
	peak, err := sampler.Stop()
	if err != nil {
		return []row{errorRow(name, err)}
	}
	return []row{{Scenario: name,
		Measured: fmt.Sprintf("peak RSS %s; %d of %d streams complete, longest %s", fmtMiB(peak), res.Successes,
			openStreams, fmtDur(res.Latency.Max)) + errorsOf(res),
		Baseline: "RSS before " + fmtMiB(before), Target: "< " + fmtMiB(openStreamsMaxRSS) + ", none stalled",
		Verdict: judge(peak < openStreamsMaxRSS && res.Successes == openStreams),
		Values:  map[string]float64{"peak_rss_bytes": float64(peak), "completed": float64(res.Successes)},
		Results: map[string]load.Result{"streams": res}}}
}
