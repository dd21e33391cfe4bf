package main

// The gateway floor: what ANY extra Go process in the path costs on this
// machine. The bench re-runs itself as a do-nothing pass-through proxy
// (net/http server, h1 client, bytes copied and flushed as they come: no
// auth, no JSON, no logs, no records) in front of the fake, and measures
// it exactly like the gateway scenarios. Its rows carry no target: they
// tell how much of the gateway's figures is the hop itself (scheduler
// wake-ups, loopback sockets, the 2 cores shared by load tool, fake and
// hop) rather than the gateway's own work.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
	"github.com/duckgate/duckgate/shared/h1"
)

// Environment of the floor proxy process.
const (
	floorAddrEnv     = "BENCH_FLOOR_PROXY_ADDR"
	floorUpstreamEnv = "BENCH_FLOOR_PROXY_UPSTREAM"
	floorReadyPath   = "/_floor/ready"
)

// floorProxyRequested reports whether this process was started as the
// floor proxy (see serveFloorProxy).
func floorProxyRequested() bool { return os.Getenv(floorAddrEnv) != "" }

// serveFloorProxy passes every request to the upstream origin unchanged
// and streams the answer back, flushing after every read.
func serveFloorProxy() error {
	upstream, err := url.Parse(os.Getenv(floorUpstreamEnv))
	if err != nil || upstream.Host == "" {
		return fmt.Errorf("%s: want an absolute URL", floorUpstreamEnv)
	}
	client := &http.Client{Transport: h1.New(h1.Options{MaxIdlePerHost: 1024})}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == floorReadyPath {
			return
		}
		target := *upstream
		target.Path, target.RawQuery = r.URL.Path, r.URL.RawQuery
		out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.ContentLength = r.ContentLength
		out.Header = r.Header.Clone()
		resp, err := client.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	})
	srv := &http.Server{Addr: os.Getenv(floorAddrEnv), Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// ensureFloor starts a floor proxy in front of upstream, once per upstream.
func (b *bench) ensureFloor(ctx context.Context, upstream *proc) (*proc, error) {
	if p := b.floors[upstream.name]; p != nil {
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := newProc("floor-proxy-"+upstream.name, self, upstream.dir, addr,
		[]string{floorAddrEnv + "=" + addr, floorUpstreamEnv + "=" + upstream.url})
	b.logf("starting a floor proxy in front of the %s on %s", upstream.name, addr)
	if _, err := p.startAndWait(ctx, floorReadyPath, 10*time.Second); err != nil {
		return nil, err
	}
	if b.floors == nil {
		b.floors = map[string]*proc{}
	}
	b.floors[upstream.name] = p
	return p, nil
}

// viaFloor calls the fake's chat completions through the floor proxy.
func (b *bench) viaFloor(floor *proc, words int, stream bool) load.Worker {
	return chatWorker{request: postWith(floor.url+"/api/v1/chat/completions", fakeKey, chatBody(words, stream)), stream: stream}
}

// runFloor measures the floor proxy as chat-latency, chat-throughput and
// chat-stream measure the gateway.
func (b *bench) runFloor(ctx context.Context) []row {
	names := []string{"floor-latency", "floor-throughput", "floor-stream"}
	floor, err := b.ensureFloor(ctx, b.fake)
	if err != nil {
		rows := make([]row, len(names))
		for i, name := range names {
			rows[i] = errorRow(name, err)
		}
		return rows
	}
	pairVia := func(opts load.Options, words int) (load.Result, load.Result) {
		return load.Compare(ctx, opts, compareRounds,
			func(int) load.Worker { return b.direct(words, opts.Stream) },
			func(int) load.Worker { return b.viaFloor(floor, words, opts.Stream) })
	}
	var rows []row

	direct, through := pairVia(b.options(1), 1)
	added := through.Latency.P50 - direct.Latency.P50
	rows = append(rows, row{Scenario: names[0], Verdict: info,
		Measured: "do-nothing proxy, 1 conn: " + latencies(through), Baseline: "fake directly: " + latencies(direct),
		Target: "added p50 " + fmtMs(added) + " (reference for chat-latency)",
		Values: map[string]float64{"added_p50_s": added.Seconds()}})

	direct, through = pairVia(b.options(50), 1)
	ratio := through.RPS / direct.RPS
	rows = append(rows, row{Scenario: names[1], Verdict: info,
		Measured: "do-nothing proxy, 50 conns: " + fmtRPS(through.RPS), Baseline: "fake directly: " + fmtRPS(direct.RPS),
		Target: fmtPct(ratio) + " of direct (reference for chat-throughput)",
		Values: map[string]float64{"ratio": ratio}})

	opts := b.options(1)
	opts.Stream = true
	opts.Duration *= streamTTFBTime
	direct, through = pairVia(opts, 1)
	added = through.TTFB.P50 - direct.TTFB.P50
	rows = append(rows, row{Scenario: names[2], Verdict: info,
		Measured: fmt.Sprintf("first event via do-nothing proxy: p50 %s (%d streams)", fmtDur(through.TTFB.P50), through.TTFB.Count),
		Baseline: "fake directly: p50 " + fmtDur(direct.TTFB.P50),
		Target:   "added " + fmtMs(added) + " (reference for chat-stream)",
		Values:   map[string]float64{"added_ttfb_p50_s": added.Seconds()}})
	return rows
}

// runProxyFloor measures a floor proxy in front of the backend as
// proxy-stream measures the frontend: the first event of a streamed chat.
func (b *bench) runProxyFloor(ctx context.Context) []row {
	const name = "floor-proxy-stream"
	if why := b.gatewayMissing(ctx); why != "" {
		return []row{skipRow(name, why)}
	}
	floor, err := b.ensureFloor(ctx, b.backend)
	if err != nil {
		return []row{errorRow(name, err)}
	}
	token := b.users[0].tokens.AccessToken
	opts := b.options(1)
	opts.Stream = true
	opts.Duration *= streamTTFBTime
	direct, through := load.Compare(ctx, opts, compareRounds,
		func(int) load.Worker { return b.viaBackend(0, proxyStreamWords, true) },
		func(int) load.Worker {
			return chatWorker{request: postWith(floor.url+"/ai/chat", token, chatBody(proxyStreamWords, true)), stream: true}
		})
	added := through.TTFB.P50 - direct.TTFB.P50
	return []row{{Scenario: name, Verdict: info,
		Measured: fmt.Sprintf("first event via do-nothing proxy: p50 %s (%d streams)", fmtDur(through.TTFB.P50), through.TTFB.Count),
		Baseline: "backend directly: p50 " + fmtDur(direct.TTFB.P50),
		Target:   "added " + fmtMs(added) + " (reference for proxy-stream)",
		Values:   map[string]float64{"added_ttfb_p50_s": added.Seconds()}}}
}
