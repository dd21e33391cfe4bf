package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// The soak (`make soak`, bench -soak DURATION) runs a mixed load against
// the backend for a long while and watches its memory: does RSS level off,
// and does anything answer 5xx. Its verdict: RSS over the last half stays
// within +10% of RSS at the middle, and not one 5xx.

const soakWorkers = 16

// soakStats counts what the workers saw.
type soakStats struct {
	requests, serverErrors, failures atomic.Int64
	mu                               sync.Mutex
	firstFailures                    []string
}

func (s *soakStats) fail(what string, err error) {
	s.failures.Add(1)
	var p *api.Problem
	if errors.As(err, &p) && p.Status >= 500 {
		s.serverErrors.Add(1)
	}
	s.mu.Lock()
	if len(s.firstFailures) < 10 {
		s.firstFailures = append(s.firstFailures, what+": "+err.Error())
	}
	s.mu.Unlock()
}

// runSoak drives the mixed load for d and prints the report; 1 when the
// verdict fails and strict is set.
func runSoak(ctx context.Context, b *bench, d time.Duration, stdout io.Writer, strict bool) int {
	users, err := b.ensureUsers(ctx)
	if err != nil {
		fmt.Fprintln(stdout, "soak:", err)
		return 2
	}
	hc := load.NewClient(2 * soakWorkers)
	base := client.New(b.backend.url, client.WithHTTPClient(hc))
	stats := &soakStats{}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	// RSS every second, from the start.
	type sample struct {
		at  time.Duration
		rss int64
	}
	var samples []sample
	start := time.Now()
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if rss, err := load.RSS(b.backend.pid()); err == nil {
				samples = append(samples, sample{time.Since(start), rss})
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range soakWorkers {
		u := users[w%len(users)]
		wg.Go(func() { soakWorker(ctx, base, u, w, stats) })
	}
	wg.Wait()
	<-sampled

	at := func(frac float64) int64 {
		i := min(int(float64(len(samples))*frac), len(samples)-1)
		return samples[i].rss
	}
	var lastHalfMax int64
	for _, s := range samples[len(samples)/2:] {
		lastHalfMax = max(lastHalfMax, s.rss)
	}
	middle := at(0.5)
	rssOK := float64(lastHalfMax) <= 1.10*float64(middle)
	errorsOK := stats.serverErrors.Load() == 0
	mib := func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
	verdict := func(ok bool) string {
		if ok {
			return "pass"
		}
		return "FAIL"
	}
	fmt.Fprintf(stdout, "## Soak: %s of mixed load, %d workers\n\n", d, soakWorkers)
	fmt.Fprintln(stdout, "| measure | value | target | result |")
	fmt.Fprintln(stdout, "|---|---|---|---|")
	fmt.Fprintf(stdout, "| requests | %d (%.0f/s) | — | — |\n", stats.requests.Load(), float64(stats.requests.Load())/d.Seconds())
	fmt.Fprintf(stdout, "| backend RSS at start / middle / end | %s / %s / %s | — | — |\n", mib(at(0)), mib(middle), mib(at(1)))
	fmt.Fprintf(stdout, "| backend RSS, highest of the last half | %s (%+.1f%% of the middle) | ≤ +10%% | %s |\n",
		mib(lastHalfMax), 100*(float64(lastHalfMax)/float64(middle)-1), verdict(rssOK))
	fmt.Fprintf(stdout, "| 5xx answers | %d | 0 | %s |\n", stats.serverErrors.Load(), verdict(errorsOK))
	fmt.Fprintf(stdout, "| other failures (4xx, transport) | %d | — | — |\n", stats.failures.Load()-stats.serverErrors.Load())
	for _, f := range stats.firstFailures {
		fmt.Fprintf(stdout, "\n- %s", f)
	}
	fmt.Fprintln(stdout)
	if strict && !(rssOK && errorsOK) {
		return 1
	}
	return 0
}

// soakWorker repeats a weighted mix of what users do: read their account,
// refresh, chat whole and streamed, keep conversations, generate and
// delete images, sign up new accounts, and an admin's stats.
func soakWorker(ctx context.Context, base *client.Client, u *user, w int, stats *soakStats) {
	rng := rand.New(rand.NewPCG(uint64(w), 42))
	c := base.WithToken(u.tokens.AccessToken)
	refreshToken := u.tokens.RefreshToken
	var conversation string
	chat := api.ChatRequest{Messages: []api.ChatMessage{{Role: "user", Content: "soak: say something short"}}}
	do := func(what string, err error) {
		stats.requests.Add(1)
		if err != nil && ctx.Err() == nil {
			stats.fail(what, err)
		}
	}
	for n := 0; ctx.Err() == nil; n++ {
		switch roll := rng.IntN(100); {
		case roll < 30:
			_, err := c.Me(ctx)
			do("me", err)
		case roll < 42:
			pair, err := base.Refresh(ctx, refreshToken)
			do("refresh", err)
			if err == nil {
				refreshToken = pair.RefreshToken
				c = base.WithToken(pair.AccessToken)
			} else {
				return // the chain is broken; this worker's view proves nothing more
			}
		case roll < 52:
			_, err := c.Chat(ctx, chat)
			do("chat", err)
		case roll < 62:
			do("chat stream", drain(c.ChatStream(ctx, chat)))
		case roll < 74:
			if conversation == "" || rng.IntN(20) == 0 {
				conv, err := c.CreateConversation(ctx, api.NewConversationRequest{})
				do("create conversation", err)
				if err != nil {
					continue
				}
				conversation = conv.ID
			}
			do("send", drain(c.SendMessage(ctx, conversation, api.SendMessageRequest{Content: fmt.Sprintf("message %d", n)})))
		case roll < 80:
			_, err := c.Conversations(ctx, client.ConversationParams{Query: "message", Limit: 20})
			do("search conversations", err)
		case roll < 85:
			img, err := c.GenerateImage(ctx, api.ImageRequest{Prompt: "a soaked duck"})
			do("image", err)
			if err == nil && len(img.Images) > 0 && img.Images[0].ID != "" {
				do("delete image", c.DeleteImage(ctx, img.Images[0].ID))
			}
		case roll < 90:
			email := fmt.Sprintf("soak-%d-%d-%d@example.com", w, n, time.Now().UnixNano())
			_, err := base.Register(ctx, api.RegisterRequest{Email: email, Password: "soak-password"})
			do("register", err)
		case roll < 95:
			_, err := base.Login(ctx, api.LoginRequest{Email: u.email, Password: u.password})
			do("login", err)
		default:
			_, err := c.Stats(ctx)
			if p := (*api.Problem)(nil); errors.As(err, &p) && p.Status == http.StatusForbidden {
				err = nil // not an admin: the expected answer
			}
			do("stats", err)
		}
	}
}

// drain reads a chat stream to its end.
func drain(s *client.ChatStream, err error) error {
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		if _, err := s.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
