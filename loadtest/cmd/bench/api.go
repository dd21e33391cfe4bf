package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/duckgate/duckgate/loadtest/load"
	"github.com/duckgate/duckgate/shared/api"
)

// call sends one request and returns the status and body. body, when not
// nil, is sent as JSON.
func call(ctx context.Context, client *http.Client, method, url, token string, body any) (int, []byte, error) {
	req, err := newJSONRequest(ctx, method, url, token, body)
	if err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, load.MaxBodyBytes))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return resp.StatusCode, data, nil
}

// callJSON is call expecting want and decoding the answer into out.
func callJSON(ctx context.Context, client *http.Client, method, url, token string, body any, want int, out any) error {
	status, data, err := call(ctx, client, method, url, token, body)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.300s", method, url, status, want, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, url, err)
	}
	return nil
}

// newJSONRequest builds a request with an optional JSON body and bearer
// token.
func newJSONRequest(ctx context.Context, method, url, token string, body any) (*http.Request, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", method, url, err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, reader)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// user is one bench account and its current tokens.
type user struct {
	email, password string
	tokens          api.TokenPair
}

// createUsers registers n users and signs each in, a few at a time (each
// registration and sign-in is one argon2id hash on the backend).
func createUsers(ctx context.Context, client *http.Client, baseURL string, n int) ([]*user, error) {
	users := make([]*user, n)
	errs := make(chan error, n)
	slots := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		users[i] = &user{email: fmt.Sprintf("bench-%03d@example.com", i), password: fmt.Sprintf("bench-password-%03d", i)}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			u := users[i]
			creds := api.RegisterRequest{Email: u.email, Password: u.password}
			if err := callJSON(ctx, client, http.MethodPost, baseURL+"/auth/register", "", creds, http.StatusCreated, nil); err != nil {
				errs <- err
				return
			}
			if err := callJSON(ctx, client, http.MethodPost, baseURL+"/auth/login", "",
				api.LoginRequest{Email: creds.Email, Password: creds.Password}, http.StatusOK, &u.tokens); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("create bench users: %w", err)
	}
	return users, nil
}

// Workers of the scenarios.

// getWith is a stateless GET with a bearer token (none when empty).
func getWith(url, token string) load.RequestFunc {
	return func(ctx context.Context) (*http.Request, error) {
		return newJSONRequest(ctx, http.MethodGet, url, token, nil)
	}
}

// postWith is a stateless POST of a fixed JSON body.
func postWith(url, token string, body any) load.RequestFunc {
	return func(ctx context.Context) (*http.Request, error) {
		return newJSONRequest(ctx, http.MethodPost, url, token, body)
	}
}

// refresher rotates its own refresh-token chain: each answer's token is
// the next request's. acknowledged is the last token the server handed out;
// broken says a rotation failed, after which the chain proves nothing (the
// server may have rotated without the answer arriving, and presenting the
// old token again revokes the family).
type refresher struct {
	url          string
	acknowledged string
	broken       bool
}

func (r *refresher) Request(ctx context.Context) (*http.Request, error) {
	return newJSONRequest(ctx, http.MethodPost, r.url, "", api.RefreshRequest{RefreshToken: r.acknowledged})
}

func (r *refresher) Check(status int, body []byte) error {
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
