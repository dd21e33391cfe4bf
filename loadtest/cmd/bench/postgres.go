package main

// The scenarios of issue 11 on PostgreSQL: a throwaway server on this
// machine (PostgreSQL's default settings, synchronous_commit on), two
// backend replicas on it, and a client spreading requests over both in
// turn. They run in the same process and session as the DuckDB rows, so
// the two engines can be compared.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/pgtest"
)

// Targets of issue 11 (2-core machine, PostgreSQL on the same machine).
const (
	pgUsersMeShareOfHealthz = 0.60
	pgRefreshTargetRPS      = 1500
	pgRefreshTargetP99      = 80 * time.Millisecond
	pgLoginShareOfIdeal     = 0.85
	pgReplicas              = 2
)

// pgState is the PostgreSQL side of the bench, started on first use.
type pgState struct {
	server   *pgtest.Server
	replicas []*proc
	users    []*user
}

// ensurePostgres starts the server, two replicas on one database and the
// bench accounts, once.
func (b *bench) ensurePostgres(ctx context.Context) (*pgState, error) {
	if b.pg != nil {
		return b.pg, nil
	}
	b.logf("starting PostgreSQL (throwaway cluster, default settings, synchronous_commit=on)")
	srv, err := pgtest.Start(ctx, pgtest.Options{Settings: map[string]string{
		"max_connections": "100", "synchronous_commit": "on"}})
	if err != nil {
		return nil, err
	}
	st := &pgState{server: srv}
	b.pg = st
	db, err := srv.CreateDatabase(ctx, "bench")
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(b.workDir, "replicas")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	for i := range pgReplicas {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		// Both replicas share the data directory: one signing key.
		p := newProc(fmt.Sprintf("backend-pg-%d", i+1), b.bins["backend"], dataDir, addr, []string{
			"BACKEND_ADDR=" + addr,
			"DATABASE_URL=" + srv.URL(db),
			"JWT_KEY_FILE=" + filepath.Join(dataDir, "jwt-ed25519.pem"),
			"JWT_ISSUER=http://bench.invalid",
			"ADMIN_EMAIL=" + adminEmail, "ADMIN_PASSWORD=" + adminPassword,
		})
		b.logf("starting %s on %s", p.name, addr)
		if err := p.start(); err != nil {
			return nil, err
		}
		st.replicas = append(st.replicas, p)
	}
	for _, p := range st.replicas {
		if err := p.waitHTTP(ctx, "/readyz", 60*time.Second); err != nil {
			return nil, err
		}
	}
	b.logf("creating %d users on PostgreSQL", benchUsers)
	if st.users, err = createUsers(ctx, b.client, st.replicas[0].url, benchUsers); err != nil {
		return nil, err
	}
	return st, nil
}

// closePostgres stops the replicas and the server.
func (b *bench) closePostgres() {
	if b.pg == nil {
		return
	}
	for _, p := range b.pg.replicas {
		if p.running() {
			p.stop()
		}
	}
	if b.pg.server != nil {
		b.pg.server.Stop()
	}
}

func (st *pgState) urls() []string {
	out := make([]string, len(st.replicas))
	for i, p := range st.replicas {
		out[i] = p.url
	}
	return out
}

// turnGet is a GET that goes to the replicas in turn (worker i starts at
// replica i), as a round-robin load balancer would send it.
func turnGet(urls []string, path, token string, i int) load.RequestFunc {
	n := i
	return func(ctx context.Context) (*http.Request, error) {
		n++
		return newJSONRequest(ctx, http.MethodGet, urls[n%len(urls)]+path, token, nil)
	}
}

func (b *bench) runPGUsersMe(ctx context.Context) []row {
	const name = "pg-users-me"
	st, err := b.ensurePostgres(ctx)
	if err != nil {
		return []row{errorRow(name, err)}
	}
	urls := st.urls()
	base, res := load.Compare(ctx, b.options(50), compareRounds,
		func(i int) load.Worker { return turnGet(urls, "/healthz", "", i) },
		func(i int) load.Worker {
			return turnGet(urls, "/users/me", st.users[i%len(st.users)].tokens.AccessToken, i)
		})
	ratio := res.RPS / base.RPS
	return []row{{Scenario: name, Measured: fmtRPS(res.RPS) + " over 2 replicas (" + latencies(res) + ")",
		Baseline: "healthz alternating " + fmtRPS(base.RPS), Target: fmtPct(ratio) + " / ≥ " + fmtPct(pgUsersMeShareOfHealthz),
		Verdict: judge(ratio >= pgUsersMeShareOfHealthz && res.Failures == 0),
		Values:  map[string]float64{"rps": res.RPS, "ratio": ratio, "healthz_rps": base.RPS},
		Results: map[string]load.Result{"users-me": res, "healthz": base}}}
}

// turnRefresher rotates its own chain on the replicas in turn. A request
// that got no answer (its replica died) is sent again, with the same
// token, to the next replica: if the dead one had committed the rotation,
// that is a retry within REFRESH_REUSE_GRACE and rotates again.
type turnRefresher struct {
	urls         []string
	n            int
	acknowledged string
	pending      bool // the last request got no answer (yet)
	broken       bool
	retried      int
}

func (r *turnRefresher) Request(ctx context.Context) (*http.Request, error) {
	if r.pending {
		r.retried++
	}
	r.n++
	r.pending = true
	return newJSONRequest(ctx, http.MethodPost, r.urls[r.n%len(r.urls)]+"/auth/refresh", "", api.RefreshRequest{RefreshToken: r.acknowledged})
}

func (r *turnRefresher) Check(status int, body []byte) error {
	r.pending = false
	if status != http.StatusOK {
		r.broken = true
		return fmt.Errorf("status %d: %.200s", status, body)
	}
	var pair api.TokenPair
	if err := json.Unmarshal(body, &pair); err != nil || pair.RefreshToken == "" {
		r.broken = true
		return fmt.Errorf("no refresh token in %.200s", body)
	}
	r.acknowledged = pair.RefreshToken
	return nil
}

// runPGRefresh measures rotations over both replicas, then runs them again
// and SIGKILLs one replica halfway: every chain's last acknowledged token
// must refresh afterwards on the survivor.
func (b *bench) runPGRefresh(ctx context.Context) []row {
	st, err := b.ensurePostgres(ctx)
	if err != nil {
		return []row{errorRow("pg-refresh", err)}
	}
	urls := st.urls()
	chains := func(workers []*turnRefresher) func(i int) load.Worker {
		return func(i int) load.Worker {
			workers[i] = &turnRefresher{urls: urls, n: i, acknowledged: st.users[i%len(st.users)].tokens.RefreshToken}
			return workers[i]
		}
	}
	workers := make([]*turnRefresher, 50)
	res := load.Run(ctx, b.options(50), chains(workers))
	b.keepChains(st, workers)
	ok := res.RPS >= pgRefreshTargetRPS && res.Latency.P99 < pgRefreshTargetP99 && res.Failures == 0
	rows := []row{{Scenario: "pg-refresh", Measured: fmtRPS(res.RPS) + " over 2 replicas (" + latencies(res) + ")",
		Target:  fmt.Sprintf("≥ %s, p99 < %s, no 401", fmtRPS(pgRefreshTargetRPS), fmtDur(pgRefreshTargetP99)),
		Verdict: judge(ok), Values: map[string]float64{"rps": res.RPS, "p99_s": res.Latency.P99.Seconds()},
		Results: map[string]load.Result{"refresh": res}}}
	return append(rows, b.checkRotationsSurviveReplicaKill(ctx, st, chains))
}

// keepChains makes the workers' newest tokens the users' for later runs.
func (b *bench) keepChains(st *pgState, workers []*turnRefresher) {
	for i, w := range workers {
		if w != nil && !w.broken && !w.pending {
			st.users[i%len(st.users)].tokens.RefreshToken = w.acknowledged
		}
	}
}

func (b *bench) checkRotationsSurviveReplicaKill(ctx context.Context, st *pgState, chains func([]*turnRefresher) func(int) load.Worker) row {
	const name = "pg-refresh-kill"
	victim, survivor := st.replicas[1], st.replicas[0]
	workers := make([]*turnRefresher, 50)
	opts := b.options(50)
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-time.After(opts.WarmUp + opts.Duration/2):
			b.logf("SIGKILL %s mid-run", victim.name)
			victim.kill()
		case <-ctx.Done():
		}
	})
	res := load.Run(ctx, opts, chains(workers))
	wg.Wait()
	lost, checked, retried := 0, 0, 0
	var firstLoss string
	for i, w := range workers {
		retried += w.retried
		if w.broken {
			continue
		}
		checked++
		var pair api.TokenPair
		if err := callJSON(ctx, b.client, http.MethodPost, survivor.url+"/auth/refresh", "",
			api.RefreshRequest{RefreshToken: w.acknowledged}, http.StatusOK, &pair); err != nil {
			lost++
			if firstLoss == "" {
				firstLoss = err.Error()
			}
			continue
		}
		st.users[i%len(st.users)].tokens = pair
	}
	r := row{Scenario: name, Measured: fmt.Sprintf("lost acknowledged rotations: %d of %d chains", lost, checked),
		Baseline: fmt.Sprintf("%s during the run; %d requests got no answer (cut off or refused by the dead replica) and went again to the survivor", fmtRPS(res.RPS), retried),
		Target:   "0 lost", Verdict: judge(lost == 0 && checked > 0),
		Values: map[string]float64{"lost": float64(lost), "checked": float64(checked), "retried": float64(retried)}}
	var notes []string
	if checked < len(workers) {
		notes = append(notes, fmt.Sprintf("%d chains broke during the run and were not checked", len(workers)-checked))
	}
	if firstLoss != "" {
		notes = append(notes, "first loss: "+firstLoss)
	}
	if _, err := victim.startAndWait(ctx, "/readyz", 30*time.Second); err != nil {
		notes = append(notes, "restarting the killed replica failed: "+err.Error())
	}
	r.Note = strings.Join(notes, "; ")
	return r
}

// runPGLogin compares the sign-in rate over both replicas with what the
// CPU allows: cores ÷ the CPU time of one sign-in in the replicas (the
// argon2id hash; PostgreSQL's share, a few queries, is left out, which
// makes the target a little stricter), measured serially first.
func (b *bench) runPGLogin(ctx context.Context) []row {
	const name = "pg-login"
	st, err := b.ensurePostgres(ctx)
	if err != nil {
		return []row{errorRow(name, err)}
	}
	cores := runtime.NumCPU()
	cpu := func() (time.Duration, error) {
		var total time.Duration
		for _, p := range st.replicas {
			t, err := load.CPUTime(p.pid())
			if err != nil {
				return 0, err
			}
			total += t
		}
		return total, nil
	}
	const serial = 8
	before, err := cpu()
	if err != nil {
		return []row{errorRow(name, err)}
	}
	for i := range serial {
		u := st.users[i%len(st.users)]
		if err := callJSON(ctx, b.client, http.MethodPost, st.replicas[i%pgReplicas].url+"/auth/login", "",
			api.LoginRequest{Email: u.email, Password: u.password}, http.StatusOK, nil); err != nil {
			return []row{errorRow(name, fmt.Errorf("serial sign-in: %w", err))}
		}
	}
	after, err := cpu()
	if err != nil {
		return []row{errorRow(name, err)}
	}
	perLogin := (after - before) / serial
	ideal := float64(cores) / perLogin.Seconds()
	opts := b.options(2 * cores)
	opts.WarmUp = 0
	urls := st.urls()
	cpuBefore, err := cpu()
	if err != nil {
		return []row{errorRow(name, err)}
	}
	res := load.Run(ctx, opts, func(i int) load.Worker {
		u := st.users[i%len(st.users)]
		n := i
		return load.RequestFunc(func(ctx context.Context) (*http.Request, error) {
			n++
			return newJSONRequest(ctx, http.MethodPost, urls[n%len(urls)]+"/auth/login", "", api.LoginRequest{Email: u.email, Password: u.password})
		})
	})
	cpuAfter, err := cpu()
	if err != nil {
		return []row{errorRow(name, err)}
	}
	ratio := res.RPS / ideal
	r := row{Scenario: name, Measured: fmt.Sprintf("%s at %d conns over 2 replicas (%s)", fmtRPS(res.RPS), opts.Connections, latencies(res)),
		Baseline: fmt.Sprintf("CPU per sign-in %s (serial) → %d cores allow %s", fmtDur(perLogin), cores, fmtRPS(ideal)),
		Target:   fmtPct(ratio) + " / ≥ " + fmtPct(pgLoginShareOfIdeal),
		Verdict:  judge(ratio >= pgLoginShareOfIdeal && res.Failures == 0),
		Values:   map[string]float64{"rps": res.RPS, "ideal_rps": ideal, "cpu_per_login_s": perLogin.Seconds()},
		Results:  map[string]load.Result{"login": res}}
	if res.Requests > 0 {
		used := (cpuAfter - cpuBefore).Seconds() / opts.Duration.Seconds()
		r.Note = fmt.Sprintf("CPU per sign-in under load %s; the replicas used %.2f of %d cores",
			fmtDur((cpuAfter-cpuBefore)/time.Duration(res.Requests)), used, cores)
	}
	return []row{r}
}
