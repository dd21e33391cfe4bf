package main

// The floor: what ANY extra Go process in the path costs on this machine.
// The bench re-runs itself as a do-nothing pass-through proxy, built like
// the real hops (a net/http server, and a net/http Transport configured
// like theirs; bytes copied and flushed as they come: no auth, no JSON, no
// logs, no records), in front of the fake or of the backend, and measures
// it in the same rounds as the gateway and proxy scenarios. Its rows carry
// no target of their own: they tell how much of those figures is the hop
// itself (scheduler wake-ups, loopback sockets, the 2 cores shared by load
// tool, servers and hop) rather than our code, and the gateway and proxy
// targets are set relative to them.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
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
	client := &http.Client{Transport: newFloorTransport()}
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

// newFloorTransport is the floor's connection pool to its upstream,
// configured as the real hops configure theirs (backend/internal/openrouter
// newTransport toward the fake, frontend/internal/proxy NewTransport toward
// the backend): net/http's Transport with keep-alive HTTP/1.1 on loopback,
// proxies from the environment, bounded dials, no transparent gzip, 1,024
// idle connections kept. (The gateway's 2 KiB connection buffers and its
// TLS settings make no difference here: plain HTTP, small messages.)
func newFloorTransport() *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
	}
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

// The floor's rows, one per gateway or proxy row that is judged against
// it: direct is the upstream called directly, viaFloor the same load
// through the floor, upstream names the former, judged the row that
// refers to this one.

func floorLatencyRow(name string, direct, viaFloor load.Result, upstream, judged string) row {
	added := viaFloor.Latency.P50 - direct.Latency.P50
	return row{Scenario: name, Verdict: info,
		Measured: "do-nothing hop, 1 conn: " + latencies(viaFloor), Baseline: upstream + ": " + latencies(direct),
		Target: "added p50 " + fmtMs(added) + " (reference for " + judged + ")",
		Values: map[string]float64{"added_p50_s": added.Seconds()}}
}

func floorThroughputRow(name string, direct, viaFloor load.Result) row {
	ratio := viaFloor.RPS / direct.RPS
	return row{Scenario: name, Verdict: info,
		Measured: "do-nothing hop, 50 conns: " + fmtRPS(viaFloor.RPS) + errorsOf(viaFloor), Baseline: "fake directly: " + fmtRPS(direct.RPS),
		Target: fmtPct(ratio) + " of direct (reference for chat-throughput)",
		Values: map[string]float64{"rps": viaFloor.RPS, "ratio": ratio}}
}

func floorStreamRow(name string, direct, viaFloor load.Result, upstream, judged string) row {
	added := viaFloor.TTFB.P50 - direct.TTFB.P50
	return row{Scenario: name, Verdict: info,
		Measured: fmt.Sprintf("first event via do-nothing hop: p50 %s (%d streams)", fmtDur(viaFloor.TTFB.P50), viaFloor.TTFB.Count) +
			errorsOf(viaFloor),
		Baseline: upstream + ": p50 " + fmtDur(direct.TTFB.P50),
		Target:   "added " + fmtMs(added) + " (reference for " + judged + ")",
		Values:   map[string]float64{"added_ttfb_p50_s": added.Seconds()}}
}
