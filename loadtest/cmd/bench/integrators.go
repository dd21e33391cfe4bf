package main

// The integrator scenarios of issue 13: the OpenAI-compatible
// POST /v1/chat/completions held to the targets of /ai/chat (against the
// fake directly and the do-nothing hop, in the same rounds), and what an
// API key costs next to an access token on an authenticated request.

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/duckgate/duckgate/loadtest/load"
	"github.com/duckgate/duckgate/shared/api"
)

// keyShareOfJWT is the least throughput of GET /users/me with an API key,
// as a share of the same with an access token: a key costs no more than
// 10% over a token.
const keyShareOfJWT = 0.90

// v1Body is the bench's chat as an OpenAI SDK sends it.
func v1Body(words int, stream bool) map[string]any {
	body := map[string]any{"model": benchModel,
		"messages": []map[string]string{{"role": "user", "content": strings.TrimSpace(strings.Repeat("bench ", words))}}}
	if stream {
		body["stream"] = true
	}
	return body
}

// viaV1 calls POST /v1/chat/completions as bench user i.
func (b *bench) viaV1(i, words int, stream bool) load.Worker {
	token := b.users[i%len(b.users)].tokens.AccessToken
	return chatWorker{request: postWith(b.backend.url+"/v1/chat/completions", token, v1Body(words, stream)), stream: stream}
}

// v1Trio measures the fake directly, through the floor and through /v1.
func (b *bench) v1Trio(ctx context.Context, opts load.Options, words int, floor *proc) (direct, viaFloor, through load.Result) {
	results := load.CompareAll(ctx, opts, compareRounds,
		func(int) load.Worker { return b.direct(words, opts.Stream) },
		func(int) load.Worker { return b.viaFloor(floor, words, opts.Stream) },
		func(i int) load.Worker { return b.viaV1(i, words, opts.Stream) })
	return results[0], results[1], results[2]
}

// runV1Latency is chat-latency through /v1.
func (b *bench) runV1Latency(ctx context.Context) []row {
	const name = "v1-chat-latency"
	floor, rows := b.gatewayAndFloor(ctx, name)
	if rows != nil {
		return rows
	}
	direct, viaFloor, through := b.v1Trio(ctx, b.options(1), 1, floor)
	added := through.Latency.P50 - direct.Latency.P50
	floorAdded := viaFloor.Latency.P50 - direct.Latency.P50
	limit := floorAdded + chatOverFloorMax
	return []row{{Scenario: name, Measured: "via /v1, 1 conn: " + latencies(through),
		Baseline: "fake directly: " + latencies(direct) + "; do-nothing hop: " + latencies(viaFloor),
		Target:   "added p50 " + fmtMs(added) + " / ≤ floor's " + fmtMs(floorAdded) + " " + fmtMs(chatOverFloorMax) + " = " + fmtMs(limit),
		Verdict:  judge(added <= limit && through.Failures == 0 && direct.Failures == 0 && viaFloor.Failures == 0),
		Values:   map[string]float64{"added_p50_s": added.Seconds(), "floor_added_p50_s": floorAdded.Seconds()},
		Results:  map[string]load.Result{"direct": direct, "floor": viaFloor, "backend": through}}}
}

// runV1Throughput is chat-throughput through /v1.
func (b *bench) runV1Throughput(ctx context.Context) []row {
	const name = "v1-chat-throughput"
	floor, rows := b.gatewayAndFloor(ctx, name)
	if rows != nil {
		return rows
	}
	direct, viaFloor, through := b.v1Trio(ctx, b.options(50), 1, floor)
	share := through.RPS / viaFloor.RPS
	return []row{{Scenario: name, Measured: "via /v1, 50 conns: " + fmtRPS(through.RPS) + " (" + latencies(through) + ")" + errorsOf(through),
		Baseline: "do-nothing hop: " + fmtRPS(viaFloor.RPS) + "; fake directly: " + fmtRPS(direct.RPS) +
			" (the backend reaches " + fmtPct(through.RPS/direct.RPS) + " of it)",
		Target:  fmtPct(share) + " of the floor / ≥ " + fmtPct(chatShareOfFloor),
		Verdict: judge(share >= chatShareOfFloor && through.Failures == 0 && viaFloor.Failures == 0),
		Values: map[string]float64{"rps": through.RPS, "floor_rps": viaFloor.RPS, "direct_rps": direct.RPS,
			"share_of_floor": share, "ratio": through.RPS / direct.RPS},
		Results: map[string]load.Result{"direct": direct, "floor": viaFloor, "backend": through}}}
}

// runV1Stream is the first event of a /v1 stream, judged like chat-stream's.
func (b *bench) runV1Stream(ctx context.Context) []row {
	const name = "v1-chat-stream"
	floor, rows := b.gatewayAndFloor(ctx, name)
	if rows != nil {
		return rows
	}
	opts := b.options(1)
	opts.Stream = true
	opts.Duration *= streamTTFBTime
	direct, viaFloor, through := b.v1Trio(ctx, opts, 1, floor)
	added := through.TTFB.P50 - direct.TTFB.P50
	floorAdded := viaFloor.TTFB.P50 - direct.TTFB.P50
	limit := floorAdded + streamOverFloorMax
	return []row{{Scenario: name,
		Measured: fmt.Sprintf("first event via /v1: p50 %s (%d streams)", fmtDur(through.TTFB.P50), through.TTFB.Count) + errorsOf(through),
		Baseline: "fake directly: p50 " + fmtDur(direct.TTFB.P50) + "; do-nothing hop: p50 " + fmtDur(viaFloor.TTFB.P50),
		Target:   "added " + fmtMs(added) + " / ≤ floor's " + fmtMs(floorAdded) + " " + fmtMs(streamOverFloorMax) + " = " + fmtMs(limit),
		Verdict:  judge(through.Failures == 0 && direct.Failures == 0 && viaFloor.Failures == 0 && added <= limit),
		Values:   map[string]float64{"added_ttfb_p50_s": added.Seconds(), "floor_added_ttfb_p50_s": floorAdded.Seconds()},
		Results:  map[string]load.Result{"direct": direct, "floor": viaFloor, "backend": through}}}
}

// runAPIKeyVsJWT compares GET /users/me at 50 connections with an API key
// and with an access token, alternating.
func (b *bench) runAPIKeyVsJWT(ctx context.Context) []row {
	const name = "apikey-vs-jwt"
	users, err := b.ensureUsers(ctx)
	if err != nil {
		return []row{errorRow(name, err)}
	}
	keys := make([]string, len(users))
	for i, u := range users {
		var k api.NewAPIKey
		if err := callJSON(ctx, b.client, http.MethodPost, b.backend.url+"/users/me/api-keys", u.tokens.AccessToken,
			api.APIKeyRequest{Name: "bench", Scopes: []string{api.ScopeRead}}, http.StatusCreated, &k); err != nil {
			return []row{errorRow(name, err)}
		}
		keys[i] = k.Secret
	}
	jwt, key := load.Compare(ctx, b.options(50), compareRounds,
		func(i int) load.Worker {
			return getWith(b.backend.url+"/users/me", users[i%len(users)].tokens.AccessToken)
		},
		func(i int) load.Worker { return getWith(b.backend.url+"/users/me", keys[i%len(keys)]) })
	share := key.RPS / jwt.RPS
	return []row{{Scenario: name, Measured: "GET /users/me with API keys, 50 conns: " + fmtRPS(key.RPS) + " (" + latencies(key) + ")" + errorsOf(key),
		Baseline: "with access tokens, alternating: " + fmtRPS(jwt.RPS) + " (" + latencies(jwt) + ")",
		Target:   fmtPct(share) + " of the tokens' rate / ≥ " + fmtPct(keyShareOfJWT),
		Verdict:  judge(share >= keyShareOfJWT && key.Failures == 0 && jwt.Failures == 0),
		Values:   map[string]float64{"rps": key.RPS, "jwt_rps": jwt.RPS, "share": share},
		Results:  map[string]load.Result{"apikey": key, "jwt": jwt}}}
}
