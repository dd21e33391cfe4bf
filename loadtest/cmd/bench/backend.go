package main

// The backend scenarios of issue 2: token-path throughput, durability of
// refresh rotations across a crash, argon2id sign-ins, memory and start-up.

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
	"github.com/duckgate/duckgate/shared/api"
)

// Targets of issue 2 (2-core machine).
const (
	usersMeShareOfHealthz = 0.70
	refreshTargetRPS      = 2000
	refreshTargetP99      = 50 * time.Millisecond
	loginShareOfIdeal     = 0.90
	loginBurstSize        = 500
	loginBurstMaxRSS      = 300 << 20
	startupMax            = time.Second
	idleRSSMax            = 100 << 20
)

func (b *bench) runHealthz(ctx context.Context) []row {
	res := b.healthzBaseline(ctx)
	return []row{{Scenario: "healthz", Measured: fmtRPS(res.RPS) + " (" + latencies(res) + ")",
		Target: "baseline, 50 conns", Verdict: info, Values: map[string]float64{"rps": res.RPS},
		Results: map[string]load.Result{"healthz": res}}}
}

func (b *bench) runUsersMe(ctx context.Context) []row {
	users, err := b.ensureUsers(ctx)
	if err != nil {
		return []row{errorRow("users-me", err)}
	}
	// Alternating with /healthz, so both see the same background load.
	base, res := load.Compare(ctx, b.options(50), compareRounds,
		func(int) load.Worker { return getWith(b.backend.url+"/healthz", "") },
		func(i int) load.Worker {
			return getWith(b.backend.url+"/users/me", users[i%len(users)].tokens.AccessToken)
		})
	ratio := res.RPS / base.RPS
	return []row{{Scenario: "users-me", Measured: fmtRPS(res.RPS) + " (" + latencies(res) + ")",
		Baseline: "healthz alternating " + fmtRPS(base.RPS), Target: fmtPct(ratio) + " / ≥ " + fmtPct(usersMeShareOfHealthz),
		Verdict: judge(ratio >= usersMeShareOfHealthz && res.Failures == 0),
		Values:  map[string]float64{"rps": res.RPS, "ratio": ratio},
		Results: map[string]load.Result{"users-me": res, "healthz": base}}}
}

// runRefresh rotates 50 token chains, then crashes the backend and checks
// that the last rotation each worker was told about survived.
func (b *bench) runRefresh(ctx context.Context) []row {
	users, err := b.ensureUsers(ctx)
	if err != nil {
		return []row{errorRow("refresh", err)}
	}
	base := b.healthzBaseline(ctx)
	workers := make([]*refresher, 50)
	res := load.Run(ctx, b.options(50), func(i int) load.Worker {
		workers[i] = &refresher{url: b.backend.url + "/auth/refresh", acknowledged: users[i%len(users)].tokens.RefreshToken}
		return workers[i]
	})
	ok := res.RPS >= refreshTargetRPS && res.Latency.P99 < refreshTargetP99 && res.Failures == 0
	rows := []row{{Scenario: "refresh", Measured: fmtRPS(res.RPS) + " (" + latencies(res) + ")",
		Baseline: "healthz " + fmtRPS(base.RPS),
		Target:   fmt.Sprintf("≥ %s, p99 < %s, no 401", fmtRPS(refreshTargetRPS), fmtDur(refreshTargetP99)),
		Verdict:  judge(ok), Values: map[string]float64{"rps": res.RPS, "p99_s": res.Latency.P99.Seconds()},
		Results: map[string]load.Result{"refresh": res}}}
	return append(rows, b.checkRotationsSurviveCrash(ctx, users, workers))
}

// checkRotationsSurviveCrash SIGKILLs the backend, restarts it on the same
// data and presents each worker's last acknowledged refresh token once
// more: an acknowledged rotation that was lost answers 401.
func (b *bench) checkRotationsSurviveCrash(ctx context.Context, users []*user, workers []*refresher) row {
	const name = "refresh-durability"
	b.logf("SIGKILL backend, restart on the same data")
	b.backend.kill()
	restart, err := b.backend.startAndWait(ctx, "/readyz", 30*time.Second)
	if err != nil {
		return errorRow(name, fmt.Errorf("restart after SIGKILL: %w", err))
	}
	lost, checked := 0, 0
	var firstLoss string
	for i, w := range workers {
		if w.broken {
			continue
		}
		checked++
		var pair api.TokenPair
		err := callJSON(ctx, b.client, http.MethodPost, b.backend.url+"/auth/refresh", "",
			api.RefreshRequest{RefreshToken: w.acknowledged}, http.StatusOK, &pair)
		if err != nil {
			lost++
			if firstLoss == "" {
				firstLoss = err.Error()
			}
			continue
		}
		// Worker i's chain started from user i's session; keep it usable.
		users[i%len(users)].tokens = pair
	}
	r := row{Scenario: name, Measured: fmt.Sprintf("lost acknowledged rotations: %d of %d", lost, checked),
		Baseline: "restart after SIGKILL: " + fmtDur(restart), Target: "0 lost", Verdict: judge(lost == 0 && checked > 0),
		Values: map[string]float64{"lost": float64(lost), "checked": float64(checked), "restart_s": restart.Seconds()}}
	var notes []string
	if checked < len(workers) {
		notes = append(notes, fmt.Sprintf("%d chains broke during the run and were not checked", len(workers)-checked))
	}
	if firstLoss != "" {
		notes = append(notes, "first loss: "+firstLoss)
	}
	r.Note = strings.Join(notes, "; ")
	return r
}

// runLogin compares the sign-in rate under load with what the CPU allows:
// cores ÷ CPU time of one sign-in, measured serially first.
func (b *bench) runLogin(ctx context.Context) []row {
	const name = "login"
	users, err := b.ensureUsers(ctx)
	if err != nil {
		return []row{errorRow(name, err)}
	}
	cores := runtime.NumCPU()
	perLogin, err := b.serialLoginCPU(ctx, users, 8)
	if err != nil {
		return []row{errorRow(name, err)}
	}
	ideal := float64(cores) / perLogin.Seconds()

	opts := b.options(2 * cores)
	opts.WarmUp = 0 // so the CPU consumed matches the sign-ins counted
	cpuBefore, err := load.CPUTime(b.backend.pid())
	if err != nil {
		return []row{errorRow(name, err)}
	}
	res := load.Run(ctx, opts, func(i int) load.Worker {
		u := users[i%len(users)]
		return postWith(b.backend.url+"/auth/login", "", api.LoginRequest{Email: u.email, Password: u.password})
	})
	cpuAfter, err := load.CPUTime(b.backend.pid())
	if err != nil {
		return []row{errorRow(name, err)}
	}
	ratio := res.RPS / ideal
	r := row{Scenario: name, Measured: fmt.Sprintf("%s at %d conns (%s)", fmtRPS(res.RPS), opts.Connections, latencies(res)),
		Baseline: fmt.Sprintf("CPU per sign-in %s (serial) → %d cores allow %s", fmtDur(perLogin), cores, fmtRPS(ideal)),
		Target:   fmtPct(ratio) + " / ≥ " + fmtPct(loginShareOfIdeal),
		Verdict:  judge(ratio >= loginShareOfIdeal && res.Failures == 0),
		Values:   map[string]float64{"rps": res.RPS, "ideal_rps": ideal, "cpu_per_login_s": perLogin.Seconds()},
		Results:  map[string]load.Result{"login": res}}
	if res.Requests > 0 {
		// How much of the machine the backend got: below the core count
		// while sign-ins queue means other processes took the rest.
		used := (cpuAfter - cpuBefore).Seconds() / opts.Duration.Seconds()
		r.Note = fmt.Sprintf("CPU per sign-in under load %s; backend used %.2f of %d cores",
			fmtDur((cpuAfter-cpuBefore)/time.Duration(res.Requests)), used, cores)
	}
	return []row{r}
}

// serialLoginCPU signs in n times one after another and returns the
// backend's CPU time per sign-in (mostly the argon2id hash).
func (b *bench) serialLoginCPU(ctx context.Context, users []*user, n int) (time.Duration, error) {
	before, err := load.CPUTime(b.backend.pid())
	if err != nil {
		return 0, err
	}
	for i := range n {
		u := users[i%len(users)]
		if err := callJSON(ctx, b.client, http.MethodPost, b.backend.url+"/auth/login", "",
			api.LoginRequest{Email: u.email, Password: u.password}, http.StatusOK, nil); err != nil {
			return 0, fmt.Errorf("serial sign-in: %w", err)
		}
	}
	after, err := load.CPUTime(b.backend.pid())
	if err != nil {
		return 0, err
	}
	if after <= before {
		return 0, fmt.Errorf("%d sign-ins used no measurable CPU (%s → %s)", n, before, after)
	}
	return (after - before) / time.Duration(n), nil
}

// runLoginBurst sends 500 sign-ins at once and watches the backend's
// memory: argon2id needs 19 MiB per running hash.
func (b *bench) runLoginBurst(ctx context.Context) []row {
	const name = "login-burst"
	users, err := b.ensureUsers(ctx)
	if err != nil {
		return []row{errorRow(name, err)}
	}
	before, err := load.RSS(b.backend.pid())
	if err != nil {
		return []row{errorRow(name, err)}
	}
	sampler := load.SampleRSS(b.backend.pid(), 5*time.Millisecond)
	opts := load.Options{Connections: loginBurstSize, Timeout: 120 * time.Second}
	res := load.Burst(ctx, opts, func(i int) load.Worker {
		u := users[i%len(users)]
		return postWith(b.backend.url+"/auth/login", "", api.LoginRequest{Email: u.email, Password: u.password})
	})
	peak, err := sampler.Stop()
	if err != nil {
		return []row{errorRow(name, err)}
	}
	measured := fmt.Sprintf("peak RSS %s; %d sign-ins in %s", fmtMiB(peak), res.Successes, fmtDur(res.Elapsed))
	if res.Failures > 0 {
		measured += fmt.Sprintf(", %d failed %s", res.Failures, statusCounts(res))
	}
	return []row{{Scenario: name, Measured: measured, Baseline: "RSS before " + fmtMiB(before),
		Target: "< " + fmtMiB(loginBurstMaxRSS) + ", all succeed", Verdict: judge(peak < loginBurstMaxRSS && res.Failures == 0),
		Values:  map[string]float64{"peak_rss_bytes": float64(peak), "failures": float64(res.Failures)},
		Results: map[string]load.Result{"burst": res}}}
}

// runStartup restarts the backend gracefully on its populated database,
// times exec → /readyz 200, then reads its RSS after a few requests.
func (b *bench) runStartup(ctx context.Context) []row {
	users, err := b.ensureUsers(ctx)
	if err != nil {
		return []row{errorRow("startup", err)}
	}
	b.backend.stop()
	took, err := b.backend.startAndWait(ctx, "/readyz", 30*time.Second)
	if err != nil {
		return []row{errorRow("startup", err)}
	}
	startup := row{Scenario: "startup", Measured: "exec → /readyz 200 in " + fmtDur(took),
		Baseline: fmt.Sprintf("database with %d users", len(users)+1), Target: "< " + fmtDur(startupMax),
		Verdict: judge(took < startupMax), Values: map[string]float64{"startup_s": took.Seconds()}}

	for _, u := range users[:5] {
		_ = callJSON(ctx, b.client, http.MethodGet, b.backend.url+"/users/me", u.tokens.AccessToken, nil, http.StatusOK, nil)
		_ = callJSON(ctx, b.client, http.MethodGet, b.backend.url+"/healthz", "", nil, http.StatusOK, nil)
	}
	time.Sleep(200 * time.Millisecond)
	rss, err := load.RSS(b.backend.pid())
	if err != nil {
		return []row{startup, errorRow("idle-rss", err)}
	}
	idle := row{Scenario: "idle-rss", Measured: "RSS " + fmtMiB(rss) + " after start + 10 requests",
		Target: "< " + fmtMiB(idleRSSMax), Verdict: judge(rss < idleRSSMax),
		Values: map[string]float64{"rss_bytes": float64(rss)}}
	return []row{startup, idle}
}
