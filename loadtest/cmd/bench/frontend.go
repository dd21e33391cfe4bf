package main

// The frontend scenarios of issue 4: what the /api reverse proxy adds to a
// direct backend call, for plain requests and streams, and the frontend's
// memory. They need a signed-in browser session (cookies + CSRF token);
// until the frontend builds and answers /healthz they are skipped.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
)

// Targets of issue 4.
const (
	proxyAddedP50Max = 500 * time.Microsecond
	// proxyStreamOverFloorMax is how much later than through a do-nothing
	// hop a stream's first event may arrive through the frontend.
	proxyStreamOverFloorMax = 150 * time.Microsecond
	proxiedStreams          = 1000
	proxiedStreamsMaxRSS    = 100 << 20
	frontendIdleRSSMax      = 40 << 20
	// proxyStreamWords and proxyStreamTime give proxy-stream enough
	// samples: a stream lasts ~0.3 s even for one word (the fake's answer
	// quotes it in a sentence, 20 ms per chunk), so one connection for the
	// usual duration times only about ten streams per side, too few for a
	// p50 to mean much. Only the first event is judged, so the length of
	// the rest does not matter.
	proxyStreamWords = 1
	proxyStreamTime  = streamTTFBTime
)

// frontendState is the running frontend and a browser session on it.
type frontendState struct {
	proc    *proc
	missing string // why the scenarios are skipped; empty when usable
	cookie  string // the session's Cookie header
	csrf    string // the page's CSRF token, sent as X-CSRF-Token
	client  *http.Client
}

// ensureFrontend starts the frontend in front of the backend and signs in
// as the first bench user, once.
func (b *bench) ensureFrontend(ctx context.Context) *frontendState {
	if b.front != nil {
		return b.front
	}
	b.front = &frontendState{client: b.client}
	if err := b.buildErr["frontend"]; err != nil {
		b.front.missing = "frontend does not build: " + firstLine(err.Error())
		return b.front
	}
	users, err := b.ensureUsers(ctx)
	if err != nil {
		b.front.missing = "no users: " + err.Error()
		return b.front
	}
	if err := b.startFrontend(ctx); err != nil {
		b.front.missing = "frontend did not start: " + firstLine(err.Error())
		return b.front
	}
	if err := b.front.signIn(ctx, users[0]); err != nil {
		b.front.missing = "cannot sign in through the frontend: " + firstLine(err.Error())
	}
	return b.front
}

func (b *bench) startFrontend(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	dir := filepath.Join(b.workDir, "frontend")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p := newProc("frontend", b.bins["frontend"], dir, addr, []string{"FRONTEND_ADDR=" + addr, "BACKEND_URL=" + b.backend.url})
	b.logf("starting frontend on %s", addr)
	if _, err := p.startAndWait(ctx, "/healthz", 15*time.Second); err != nil {
		return err
	}
	b.front.proc = p
	return nil
}

var csrfMeta = regexp.MustCompile(`<meta\s+name="csrf-token"\s+content="([^"]+)"`)

// signIn does what a browser does: load /login, post the form with the
// page's CSRF token, keep the cookies and the signed-in page's token (a
// sign-in rotates it); then checks /api works with them.
func (f *frontendState) signIn(ctx context.Context, u *user) error {
	jar, _ := cookiejar.New(nil)
	// A browser's client: cookies kept, redirects followed.
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: load.NewTransport(1)}
	defer client.CloseIdleConnections()
	base := f.proc.url
	page, err := getPage(ctx, client, base+"/login")
	if err != nil {
		return err
	}
	m := csrfMeta.FindStringSubmatch(page)
	if m == nil {
		return errors.New(`GET /login: no <meta name="csrf-token"> in the page`)
	}
	f.csrf = m[1]
	form := url.Values{"email": {u.email}, "password": {u.password}, "csrf_token": {f.csrf}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req) // follows the redirect after a successful sign-in
	if err != nil {
		return fmt.Errorf("POST /login: %w", err)
	}
	landing, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /login: status %d, %v", resp.StatusCode, err)
	}
	// Signing in rotates the CSRF token: the signed-in pages carry the new one.
	if m = csrfMeta.FindStringSubmatch(string(landing)); m == nil {
		return errors.New(`the page after sign-in has no <meta name="csrf-token">`)
	}
	f.csrf = m[1]
	baseURL, _ := url.Parse(base)
	var parts []string
	for _, c := range jar.Cookies(baseURL) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	f.cookie = strings.Join(parts, "; ")
	return f.checkSession(ctx)
}

// checkSession calls GET /api/users/me with the session's cookies.
func (f *frontendState) checkSession(ctx context.Context) error {
	req, err := f.viaFrontend(http.MethodGet, "/users/me", nil)(ctx)
	if err != nil {
		return err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET /api/users/me with the session: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /api/users/me with the session: status %d: %s", resp.StatusCode, body)
	}
	return nil
}

func getPage(ctx context.Context, client *http.Client, url string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %d, %v", url, resp.StatusCode, err)
	}
	return string(body), nil
}

// viaFrontend is a request through the frontend's /api proxy with the
// browser session.
func (f *frontendState) viaFrontend(method, path string, body any) load.RequestFunc {
	return func(ctx context.Context) (*http.Request, error) {
		req, err := newJSONRequest(ctx, method, f.proc.url+"/api"+path, "", body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Cookie", f.cookie)
		req.Header.Set("X-CSRF-Token", f.csrf)
		return req, nil
	}
}

func (b *bench) runFrontendIdleRSS(ctx context.Context) []row {
	const name = "frontend-idle-rss"
	f := b.ensureFrontend(ctx)
	if f.missing != "" {
		return []row{skipRow(name, f.missing)}
	}
	for range 5 {
		_, _, _ = call(ctx, b.client, http.MethodGet, f.proc.url+"/healthz", "", nil)
	}
	time.Sleep(200 * time.Millisecond)
	rss, err := load.RSS(f.proc.pid())
	if err != nil {
		return []row{errorRow(name, err)}
	}
	return []row{{Scenario: name, Measured: "RSS " + fmtMiB(rss) + " after start, sign-in + a few requests",
		Target: "< " + fmtMiB(frontendIdleRSSMax), Verdict: judge(rss < frontendIdleRSSMax),
		Values: map[string]float64{"rss_bytes": float64(rss)}}}
}

func (b *bench) runProxyOverhead(ctx context.Context) []row {
	const name = "proxy-overhead"
	f := b.ensureFrontend(ctx)
	if f.missing != "" {
		return []row{skipRow(name, f.missing)}
	}
	opts := b.options(1)
	direct, through := load.Compare(ctx, opts, compareRounds,
		func(int) load.Worker { return getWith(b.backend.url+"/users/me", b.users[0].tokens.AccessToken) },
		func(int) load.Worker { return f.viaFrontend(http.MethodGet, "/users/me", nil) })
	added := through.Latency.P50 - direct.Latency.P50
	return []row{{Scenario: name, Measured: "GET /api/users/me via frontend, 1 conn: " + latencies(through),
		Baseline: "backend directly: " + latencies(direct), Target: "added p50 " + fmtMs(added) + " / ≤ " + fmtMs(proxyAddedP50Max),
		Verdict: judge(added <= proxyAddedP50Max && through.Failures == 0),
		Values:  map[string]float64{"added_p50_s": added.Seconds()},
		Results: map[string]load.Result{"direct": direct, "frontend": through}}}
}

// runProxyStream compares a stream's first event from the backend
// directly, through a floor in front of the backend and through the
// frontend, in turn in each round; the frontend is judged against the
// floor.
func (b *bench) runProxyStream(ctx context.Context) []row {
	const name, floorName = "proxy-stream", "floor-proxy-stream"
	f := b.ensureFrontend(ctx)
	if f.missing != "" {
		return []row{skipRow(name, f.missing), skipRow(floorName, f.missing)}
	}
	if why := b.gatewayMissing(ctx); why != "" {
		return []row{skipRow(name, why), skipRow(floorName, why)}
	}
	floor, err := b.ensureFloor(ctx, b.backend)
	if err != nil {
		err = fmt.Errorf("floor: %w", err)
		return []row{errorRow(name, err), errorRow(floorName, err)}
	}
	token := b.users[0].tokens.AccessToken
	opts := b.options(1)
	opts.Stream = true
	opts.Duration *= proxyStreamTime
	results := load.CompareAll(ctx, opts, compareRounds,
		func(int) load.Worker { return b.viaBackend(0, proxyStreamWords, true) },
		func(int) load.Worker {
			return chatWorker{request: postWith(floor.url+"/ai/chat", token, chatBody(proxyStreamWords, true)), stream: true}
		},
		func(int) load.Worker {
			return chatWorker{request: f.viaFrontend(http.MethodPost, "/ai/chat", chatBody(proxyStreamWords, true)), stream: true}
		})
	direct, viaFloor, through := results[0], results[1], results[2]
	added := through.TTFB.P50 - direct.TTFB.P50
	floorAdded := viaFloor.TTFB.P50 - direct.TTFB.P50
	limit := floorAdded + proxyStreamOverFloorMax
	return []row{{Scenario: name, Measured: fmt.Sprintf("first event via frontend: p50 %s (%d streams)", fmtDur(through.TTFB.P50),
		through.TTFB.Count) + errorsOf(through),
		Baseline: fmt.Sprintf("backend directly: p50 %s (%d streams); do-nothing hop: p50 %s", fmtDur(direct.TTFB.P50),
			direct.TTFB.Count, fmtDur(viaFloor.TTFB.P50)),
		Target:  "added " + fmtMs(added) + " / ≤ floor's " + fmtMs(floorAdded) + " " + fmtMs(proxyStreamOverFloorMax) + " = " + fmtMs(limit),
		Verdict: judge(added <= limit && through.Failures == 0 && direct.Failures == 0 && viaFloor.Failures == 0),
		Values:  map[string]float64{"added_ttfb_p50_s": added.Seconds(), "floor_added_ttfb_p50_s": floorAdded.Seconds()},
		Results: map[string]load.Result{"direct": direct, "floor": viaFloor, "frontend": through}},
		floorStreamRow(floorName, direct, viaFloor, "backend directly", name)}
}

func (b *bench) runProxyStreams1000(ctx context.Context) []row {
	const name = "proxy-streams-1000"
	f := b.ensureFrontend(ctx)
	if f.missing != "" {
		return []row{skipRow(name, f.missing)}
	}
	if why := b.gatewayMissing(ctx); why != "" {
		return []row{skipRow(name, why)}
	}
	before, err := load.RSS(f.proc.pid())
	if err != nil {
		return []row{errorRow(name, err)}
	}
	sampler := load.SampleRSS(f.proc.pid(), 5*time.Millisecond)
	opts := load.Options{Connections: proxiedStreams, Stream: true, Timeout: 60 * time.Second}
	res := load.Burst(ctx, opts, func(int) load.Worker {
		return chatWorker{request: f.viaFrontend(http.MethodPost, "/ai/chat", chatBody(longStreamWords, true)), stream: true}
	})
	peak, err := sampler.Stop()
	if err != nil {
		return []row{errorRow(name, err)}
	}
	return []row{{Scenario: name,
		Measured: fmt.Sprintf("frontend peak RSS %s; %d of %d streams complete, longest %s", fmtMiB(peak),
			res.Successes, proxiedStreams, fmtDur(res.Latency.Max)) + errorsOf(res),
		Baseline: "RSS before " + fmtMiB(before), Target: "< " + fmtMiB(proxiedStreamsMaxRSS) + ", none stalled",
		Verdict: judge(peak < proxiedStreamsMaxRSS && res.Successes == proxiedStreams),
		Values:  map[string]float64{"peak_rss_bytes": float64(peak), "completed": float64(res.Successes)},
		Results: map[string]load.Result{"streams": res}}}
}

// firstLine keeps a reason short enough for a table cell.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 160 {
		line = line[:160] + "…"
	}
	return line
}
