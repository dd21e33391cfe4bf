package main

// The page targets of issue 4: a signed-in page renders in at most 2 ms
// (p50) beyond the backend calls it makes, and every page's HTML, CSS and
// JS together stay under 250 KB before compression, served compressed and
// cacheable.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
	"github.com/duckgate/duckgate/shared/api"
)

// Targets of issue 4.
const (
	pageAddedP50Max = 2 * time.Millisecond
	pageWeightMax   = 250_000
	// assetMinMaxAge is what "cacheable" means for a static asset here: a
	// browser keeps it at least a month without asking again.
	assetMinMaxAge = 30 * 24 * time.Hour
)

// The backend calls of the pages page-render times, in order: web.loadUser
// asks who is signed in, then the page handler makes its own calls
// (web.renderProfile; web.adminOverview, whose calls go out together: "|"
// joins calls made concurrently).
var (
	profileBackendCalls = []string{"/users/me", "/users/me/sessions", "/users/me/api-keys?limit=200"}
	adminBackendCalls   = []string{"/users/me", "/admin/stats|/admin/health/db|/admin/usage?days=30&group_by=user|/users?limit=200"}
)

// chatBackendCalls are the calls of GET /chat?c={id} (web.chat): who is
// signed in, then the models, the sidebar and the open conversation at
// once ("|" joins calls made concurrently); {id} is the conversation.
var chatBackendCalls = []string{"/users/me", "/ai/models?modality=text|/conversations?limit=50|/conversations/{id}"}

// runPageRender times GET /profile and GET /chat?c={id} (a conversation
// of a few exchanges) as a bench user, and GET /admin as the admin.
func (b *bench) runPageRender(ctx context.Context) []row {
	f := b.ensureFrontend(ctx)
	if f.missing != "" {
		return []row{skipRow("page-render", f.missing), skipRow("page-render-chat", f.missing), skipRow("page-render-admin", f.missing)}
	}
	token := b.users[0].tokens.AccessToken
	rows := []row{b.pageRender(ctx, "page-render", f, "/profile", token, profileBackendCalls)}
	if id, err := b.benchConversation(ctx, token); err != nil {
		rows = append(rows, errorRow("page-render-chat", err))
	} else {
		calls := make([]string, len(chatBackendCalls))
		for i, c := range chatBackendCalls {
			calls[i] = strings.ReplaceAll(c, "{id}", id)
		}
		rows = append(rows, b.pageRender(ctx, "page-render-chat", f, "/chat?c="+id, token, calls))
	}
	admin, adminToken, err := b.adminSessions(ctx, f)
	if err != nil {
		return append(rows, errorRow("page-render-admin", err))
	}
	return append(rows, b.pageRender(ctx, "page-render-admin", admin, "/admin", adminToken, adminBackendCalls))
}

// benchConversation starts a conversation of four exchanges for the user
// and returns its id. Without AI (the gateway missing) it stays empty.
func (b *bench) benchConversation(ctx context.Context, token string) (string, error) {
	var conv api.Conversation
	if err := callJSON(ctx, b.client, http.MethodPost, b.backend.url+"/conversations", token,
		api.NewConversationRequest{Title: "Bench conversation"}, http.StatusCreated, &conv); err != nil {
		return "", err
	}
	for i := range 4 {
		status, body, err := call(ctx, b.client, http.MethodPost, b.backend.url+"/conversations/"+conv.ID+"/messages", token,
			api.SendMessageRequest{Content: fmt.Sprintf("Question %d: how do ducks keep their feathers dry?", i+1)})
		if err != nil {
			return "", err
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("POST /conversations/{id}/messages: status %d: %.200s", status, body)
		}
	}
	return conv.ID, nil
}

// adminSessions signs the admin in through the frontend (a browser
// session) and at the backend (a bearer token for the baseline).
func (b *bench) adminSessions(ctx context.Context, f *frontendState) (*frontendState, string, error) {
	creds := &user{email: adminEmail, password: adminPassword}
	browser := &frontendState{proc: f.proc, client: f.client}
	if err := browser.signIn(ctx, creds); err != nil {
		return nil, "", fmt.Errorf("admin sign-in through the frontend: %w", err)
	}
	var tokens api.TokenPair
	err := callJSON(ctx, b.client, http.MethodPost, b.backend.url+"/auth/login", "",
		api.LoginRequest{Email: creds.email, Password: creds.password}, http.StatusOK, &tokens)
	if err != nil {
		return nil, "", fmt.Errorf("admin sign-in at the backend: %w", err)
	}
	return browser, tokens.AccessToken, nil
}

// pageRender compares GET path through the frontend with the same backend
// calls made one after the other by the bench client, alternating rounds on
// one connection: the difference is what the frontend adds (session, CSRF,
// template, gzip) to the page's backend round trips.
func (b *bench) pageRender(ctx context.Context, name string, f *frontendState, path, token string, calls []string) row {
	opts := b.options(1)
	client := load.NewClient(1)
	client.Transport = sequenceTransport{next: client.Transport}
	defer client.CloseIdleConnections()
	opts.Client = client
	direct, page := load.Compare(ctx, opts, compareRounds,
		func(int) load.Worker { return backendSequence(b.backend.url, token, calls) },
		func(int) load.Worker { return f.page(path) })
	added := page.Latency.P50 - direct.Latency.P50
	return row{Scenario: name, Measured: "GET " + path + " via frontend (gzip), 1 conn: " + latencies(page),
		Baseline: "its backend calls directly (" + strings.Join(calls, " + ") + "): " + latencies(direct),
		Target:   "added p50 " + fmtMs(added) + " / ≤ " + fmtMs(pageAddedP50Max),
		Verdict:  judge(added <= pageAddedP50Max && page.Failures == 0 && direct.Failures == 0),
		Values:   map[string]float64{"added_p50_s": added.Seconds()},
		Results:  map[string]load.Result{"direct": direct, "frontend": page}}
}

// page is a signed-in browser's GET of a page, accepting gzip as browsers
// do (the answer is not decompressed: the bytes are what is measured).
func (f *frontendState) page(path string) load.Worker {
	return pageWorker(func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.proc.url+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Cookie", f.cookie)
		req.Header.Set("Accept-Encoding", "gzip")
		return req, nil
	})
}

// pageWorker wants 200: a redirect to the sign-in page is a failure.
type pageWorker load.RequestFunc

func (p pageWorker) Request(ctx context.Context) (*http.Request, error) { return p(ctx) }

func (p pageWorker) Check(status int, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", status, body)
	}
	return nil
}

// sequenceHeader lists paths the bench client's transport calls, in order,
// before the request itself; the header is not sent.
const sequenceHeader = "X-Bench-Calls-Before"

// alongsideHeader lists paths the bench client's transport calls at the
// same time as the request itself (a page's concurrent calls).
const alongsideHeader = "X-Bench-Calls-Alongside"

// backendSequence is one request standing for several backend calls made
// one after the other with the same bearer token, timed as one. A step of
// calls joined by "|" is made concurrently, as a page does.
func backendSequence(base, token string, paths []string) load.RequestFunc {
	return func(ctx context.Context) (*http.Request, error) {
		last := len(paths) - 1
		group := strings.Split(paths[last], "|")
		req, err := newJSONRequest(ctx, http.MethodGet, base+group[len(group)-1], token, nil)
		if err != nil {
			return nil, err
		}
		if last > 0 {
			req.Header.Set(sequenceHeader, strings.Join(paths[:last], ","))
		}
		if len(group) > 1 {
			req.Header.Set(alongsideHeader, strings.Join(group[:len(group)-1], "|"))
		}
		return req, nil
	}
}

// sequenceTransport makes the calls a request's sequenceHeader lists (same
// host, same headers, answers read and dropped; a non-2xx one ends the
// sequence with that answer) before sending the request itself, and those
// of its alongsideHeader at the same time as it.
type sequenceTransport struct{ next http.RoundTripper }

func (t sequenceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	before, alongside := req.Header.Get(sequenceHeader), req.Header.Get(alongsideHeader)
	if before == "" && alongside == "" {
		return t.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.Header.Del(sequenceHeader)
	req.Header.Del(alongsideHeader)
	if before != "" {
		for _, step := range strings.Split(before, ",") {
			if resp, err := t.all(req, strings.Split(step, "|")); resp != nil || err != nil {
				return resp, err
			}
		}
	}
	if alongside == "" {
		return t.next.RoundTrip(req)
	}
	type answer struct {
		resp *http.Response
		err  error
	}
	others := make(chan answer, 1)
	go func() {
		resp, err := t.all(req, strings.Split(alongside, "|"))
		others <- answer{resp, err}
	}()
	resp, err := t.next.RoundTrip(req)
	if o := <-others; o.resp != nil || o.err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return o.resp, o.err
	}
	return resp, err
}

// all makes the calls of paths concurrently, reading and dropping their
// answers; it returns the first failure (a non-2xx answer or an error), or
// nothing.
func (t sequenceTransport) all(req *http.Request, paths []string) (*http.Response, error) {
	type answer struct {
		resp *http.Response
		err  error
	}
	answers := make(chan answer, len(paths))
	for _, path := range paths {
		go func() {
			call := req.Clone(req.Context())
			u, err := url.Parse(path)
			if err != nil {
				answers <- answer{nil, err}
				return
			}
			call.URL.Path, call.URL.RawQuery = u.Path, u.RawQuery
			resp, err := t.next.RoundTrip(call)
			if err == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				resp = nil
			}
			answers <- answer{resp, err}
		}()
	}
	var first answer
	for range paths {
		a := <-answers
		if first.resp == nil && first.err == nil {
			first = a
		} else if a.resp != nil {
			a.resp.Body.Close()
		}
	}
	return first.resp, first.err
}

// Pages weighed by page-weight: every page a signed-in user reaches, the
// admin's, and the two anonymous ones.
var (
	signedInPages  = []string{"/", "/profile", "/usage", "/chat", "/images", "/videos"}
	adminPages     = []string{"/admin", "/admin/users", "/admin/audit"}
	anonymousPages = []string{"/login", "/register"}
)

var linkedAsset = regexp.MustCompile(`<(?:link[^>]+href|script[^>]+src)="(/static/[^"]+\.(?:css|js))"`)

// pageWeight is one page's uncompressed bytes and what was wrong with how
// it was served.
type pageWeight struct {
	path     string
	html     int
	assets   int
	problems []string
}

// runPageWeight loads every page and its linked CSS and JS as a browser
// does, adds up the uncompressed bytes, and checks the answers are gzip
// compressed and the assets long-lived in caches.
func (b *bench) runPageWeight(ctx context.Context) []row {
	const name = "page-weight"
	f := b.ensureFrontend(ctx)
	if f.missing != "" {
		return []row{skipRow(name, f.missing)}
	}
	admin, _, err := b.adminSessions(ctx, f)
	if err != nil {
		return []row{errorRow(name, err)}
	}
	cookies := map[string]string{}
	for _, path := range signedInPages {
		cookies[path] = f.cookie
	}
	for _, path := range adminPages {
		cookies[path] = admin.cookie
	}
	for _, path := range anonymousPages {
		cookies[path] = ""
	}
	var weights []pageWeight
	for _, path := range slices.Concat(signedInPages, adminPages, anonymousPages) {
		w, err := f.weigh(ctx, b.client, path, cookies[path])
		if err != nil {
			return []row{errorRow(name, err)}
		}
		weights = append(weights, w)
	}
	heaviest := weights[0]
	var problems []string
	for _, w := range weights {
		if w.html+w.assets > heaviest.html+heaviest.assets {
			heaviest = w
		}
		if w.html+w.assets >= pageWeightMax {
			problems = append(problems, fmt.Sprintf("%s weighs %d bytes", w.path, w.html+w.assets))
		}
		problems = append(problems, w.problems...)
	}
	r := row{Scenario: name,
		Measured: fmt.Sprintf("%d pages; heaviest %s: %.1f KB (HTML %.1f KB + CSS/JS %.1f KB), uncompressed",
			len(weights), heaviest.path, kb(heaviest.html+heaviest.assets), kb(heaviest.html), kb(heaviest.assets)),
		Baseline: "—",
		Target:   fmt.Sprintf("< %.0f KB each, gzip, assets cached ≥ %d days", kb(pageWeightMax), int(assetMinMaxAge.Hours()/24)),
		Verdict:  judge(len(problems) == 0),
		Values:   map[string]float64{"heaviest_bytes": float64(heaviest.html + heaviest.assets)}}
	if len(problems) > 0 {
		r.Note = strings.Join(dedupe(problems), "; ")
	}
	return []row{r}
}

// weigh fetches a page and its linked CSS and JS twice: plain, to count the
// bytes, and with Accept-Encoding: gzip, to check how they are served.
func (f *frontendState) weigh(ctx context.Context, client *http.Client, path, cookie string) (pageWeight, error) {
	w := pageWeight{path: path}
	html, _, err := fetch(ctx, client, f.proc.url+path, cookie, false)
	if err != nil {
		return w, err
	}
	w.html = len(html)
	if _, h, err := fetch(ctx, client, f.proc.url+path, cookie, true); err != nil {
		return w, err
	} else if h.Get("Content-Encoding") != "gzip" {
		w.problems = append(w.problems, path+" is not served gzip-compressed")
	}
	for _, m := range linkedAsset.FindAllStringSubmatch(string(html), -1) {
		body, _, err := fetch(ctx, client, f.proc.url+m[1], "", false)
		if err != nil {
			return w, err
		}
		w.assets += len(body)
		_, h, err := fetch(ctx, client, f.proc.url+m[1], "", true)
		if err != nil {
			return w, err
		}
		if h.Get("Content-Encoding") != "gzip" {
			w.problems = append(w.problems, m[1]+" is not served gzip-compressed")
		}
		if maxAge(h.Get("Cache-Control")) < assetMinMaxAge {
			w.problems = append(w.problems, fmt.Sprintf("%s: Cache-Control %q", m[1], h.Get("Cache-Control")))
		}
	}
	return w, nil
}

// fetch GETs url without following redirects and wants 200. The client
// does not decompress: with gzip the body is the compressed bytes.
func fetch(ctx context.Context, client *http.Client, url, cookie string, gzip bool) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := client.Transport.RoundTrip(req) // no redirects, no transparent gunzip
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return body, resp.Header, nil
}

// maxAge reads max-age from a Cache-Control value (0 when absent).
func maxAge(cacheControl string) time.Duration {
	for _, directive := range strings.Split(cacheControl, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(directive), "max-age=")
		if !ok {
			continue
		}
		if secs, err := strconv.Atoi(v); err == nil {
			return time.Duration(secs) * time.Second
		}
	}
	return 0
}

func kb(bytes int) float64 { return float64(bytes) / 1000 }

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
