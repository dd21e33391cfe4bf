// Package openrouter is the client of the upstream AI provider, OpenRouter
// (https://openrouter.ai/api/v1, described in shared/openrouter/openapi.yaml).
//
// It knows nothing of the web framework: context in, plain structs out.
// Every failure is an *Error: its Kind says how the gateway answers (429,
// 502, 504, 422, or nothing when the caller went away), its Message is safe
// to show to users (never the API key, never an upstream URL) and its Cause
// is the private reason, for logs.
//
// Timeouts: a non-streaming call may take Config.Timeout in total. A stream
// (chat SSE, video content) gets Config.Timeout until the response headers
// arrive, then at most Config.StreamIdleTimeout of silence between reads, so
// a long answer that keeps flowing is never cut.
//
// The API key is sent only to the origin of Config.BaseURL; an absolute
// polling URL or a redirect to another host never receives it.
package openrouter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultBaseURL           = "https://openrouter.ai/api/v1"
	DefaultTimeout           = 120 * time.Second
	DefaultStreamIdleTimeout = 60 * time.Second
)

// maxBodyBytes bounds a JSON answer; chat answers with several base64
// images stay well below it.
const maxBodyBytes = 64 << 20

// Config configures a Client. Only APIKey is required.
type Config struct {
	// BaseURL of the API, e.g. https://openrouter.ai/api/v1 (the default).
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>" to BaseURL's origin only.
	APIKey string
	// Timeout bounds one call (until the headers, for streams).
	Timeout time.Duration
	// StreamIdleTimeout bounds the silence between two reads of a stream.
	StreamIdleTimeout time.Duration
	// AppURL and AppTitle are OpenRouter's app attribution headers
	// (HTTP-Referer; X-Title and X-OpenRouter-Title). Optional.
	AppURL   string
	AppTitle string
	// UserSalt keys the hash that turns our user ids into OpenRouter's `user`
	// field. Optional; set it to make the hashes unlinkable to user ids.
	UserSalt string
	// HTTPClient replaces the client's own (tests). Its CheckRedirect is
	// replaced by one that keeps the key on the configured origin.
	HTTPClient *http.Client
}

// Client calls OpenRouter. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	configErr error
	apiKey    string
	timeout   time.Duration
	idle      time.Duration
	appURL    string
	appTitle  string
	userSalt  string
	http      *http.Client
	// chatURL is the chat completions endpoint, built once: every chat
	// call uses it.
	chatURL string
	// userMACs hold HMACs already keyed with the user salt (keying costs
	// two hash blocks and allocations on every call otherwise).
	userMACs sync.Pool
}

// New returns a client for cfg. An invalid BaseURL does not panic: every call
// then fails with an *Error saying so (validate early with ValidateBaseURL).
func New(cfg Config) *Client {
	c := &Client{
		apiKey:   cfg.APIKey,
		timeout:  orDefault(cfg.Timeout, DefaultTimeout),
		idle:     orDefault(cfg.StreamIdleTimeout, DefaultStreamIdleTimeout),
		appURL:   cfg.AppURL,
		appTitle: cfg.AppTitle,
		userSalt: cfg.UserSalt,
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	c.base, c.configErr = parseBaseURL(raw)
	c.http = newHTTPClient(cfg.HTTPClient, c.timeout)
	c.http.CheckRedirect = c.checkRedirect
	c.chatURL = c.endpoint(nil, "chat", "completions")
	c.userMACs.New = func() any { return newUserMAC(c.userSalt) }
	return c
}

// ValidateBaseURL reports whether raw can serve as Config.BaseURL.
func ValidateBaseURL(raw string) error {
	_, err := parseBaseURL(raw)
	return err
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("openrouter: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("openrouter: base URL %q must be an absolute http(s) URL", raw)
	}
	return u, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// newHTTPClient returns the client's own http.Client over newTransport,
// without an overall Timeout: calls are bounded by their context, streams
// by the idle timer.
func newHTTPClient(given *http.Client, responseHeaderTimeout time.Duration) *http.Client {
	if given != nil {
		copied := *given
		return &copied
	}
	return &http.Client{Transport: newTransport(responseHeaderTimeout)}
}

// checkRedirect follows at most 10 redirects and drops the key whenever one
// leaves the configured origin (stricter than net/http, which keeps it for
// subdomains).
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !c.sameOrigin(req.URL) {
		req.Header.Del("Authorization")
	}
	return nil
}

func (c *Client) sameOrigin(u *url.URL) bool {
	return c.base != nil && strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host)
}

// endpoint is the absolute URL of an API path (segments are escaped).
func (c *Client) endpoint(query url.Values, segments ...string) string {
	if c.base == nil {
		return "" // misconfigured: the call reports it
	}
	escaped := make([]string, len(segments))
	for i, s := range segments {
		escaped[i] = url.PathEscape(s)
	}
	u := c.base.JoinPath(escaped...)
	u.RawQuery = query.Encode()
	return u.String()
}

// resolve makes ref (absolute, or relative like OpenRouter's
// "/api/v1/videos/job-1") absolute against the base URL.
func (c *Client) resolve(ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", ref, err)
	}
	return c.base.ResolveReference(u), nil
}

// newRequest builds a request with the attribution headers, a JSON body when
// body is not nil, and the key when the target is the configured origin.
func (c *Client) newRequest(ctx context.Context, method, target string, body any) (*http.Request, error) {
	var reader io.Reader
	if body != nil {
		encoded, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		reader = bytes.NewReader(encoded)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "duckgate-openrouter/1")
	if c.appURL != "" {
		req.Header.Set("HTTP-Referer", c.appURL)
	}
	if c.appTitle != "" {
		req.Header.Set("X-Title", c.appTitle)
		req.Header.Set("X-OpenRouter-Title", c.appTitle)
	}
	if c.sameOrigin(req.URL) && c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return req, nil
}

// send performs req and returns the response when its status is 2xx; any
// other outcome becomes an *Error (the body of a failed response is closed).
func (c *Client) send(op string, parent context.Context, req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportFailure(op, parent, req.Context(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, c.statusFailure(op, resp)
	}
	return resp, nil
}

// call performs one bounded JSON call: it sends in (nil for GET) to target
// and decodes the answer into out.
func (c *Client) call(ctx context.Context, op, method, target string, in, out any) error {
	body, err := c.callRaw(ctx, op, method, target, in)
	if err != nil {
		return err
	}
	return c.decode(op, body, out)
}

// callRaw performs one bounded call and returns the 2xx answer's body as
// it came.
func (c *Client) callRaw(ctx context.Context, op, method, target string, in any) ([]byte, error) {
	if c.configErr != nil {
		return nil, c.misconfigured(op)
	}
	callCtx, cancel := context.WithTimeoutCause(ctx, c.timeout, errCallTimeout)
	defer cancel()
	req, err := c.newRequest(callCtx, method, target, in)
	if err != nil {
		return nil, fmt.Errorf("openrouter: %s: %w", op, err)
	}
	resp, err := c.send(op, ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, c.transportFailure(op, ctx, callCtx, err)
	}
	if len(body) > maxBodyBytes {
		return nil, c.malformed(op, errors.New("answer larger than 64 MiB"))
	}
	return body, nil
}

// errorCarrier is an answer type that also holds the top-level "error"
// member, so a body is parsed once instead of twice (see decode).
type errorCarrier interface {
	errorMember() json.RawMessage
}

// decode reads a 2xx JSON body into out. OpenRouter sometimes reports a
// failure inside a 200 answer ({"error": {...}}): that is a failure too.
func (c *Client) decode(op string, body []byte, out any) error {
	if carrier, ok := out.(errorCarrier); ok {
		// One pass reads the answer and its "error" member together. Any
		// decoding trouble takes the two-pass path below, which decides
		// between a failure report and a malformed answer.
		if json.Unmarshal(body, out) == nil {
			if failure, ok := apiFailure(carrier.errorMember()); ok {
				return c.upstreamFailure(op, failure.Code, failure, nil)
			}
			return nil
		}
	}
	var envelope struct {
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return c.malformed(op, err)
	}
	if failure, ok := apiFailure(envelope.Error); ok {
		return c.upstreamFailure(op, failure.Code, failure, nil)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return c.malformed(op, err)
	}
	return nil
}

// apiFailure reads an "error" member that reports a failed call. A video
// job's "error" is a string describing a failed job, not a failure of the
// call; only an error object is.
func apiFailure(member json.RawMessage) (APIError, bool) {
	var failure APIError
	if bytes.HasPrefix(member, []byte("{")) && json.Unmarshal(member, &failure) == nil {
		return failure, true
	}
	return APIError{}, false
}
