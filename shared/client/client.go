package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

// DefaultUserAgent is sent when neither WithUserAgent nor WithForwarded names
// another one.
const DefaultUserAgent = "duckgate-go-client/1"

// Client calls the duckgate backend API. It is immutable after New, so one
// Client is safe for concurrent use; WithToken derives a per-user copy.
type Client struct {
	baseURL   string
	http      *http.Client
	userAgent string
	token     string
}

// Option configures a Client in New.
type Option func(*Client)

// New returns a client of the backend at baseURL (for example
// "http://127.0.0.1:8000"; a path prefix is kept). Without WithHTTPClient it
// uses this package's own http.Client (see defaultHTTPClient), without an
// overall timeout, because chat streams and video downloads may legitimately
// last minutes: bound calls with the context instead.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		baseURL:   strings.TrimRight(baseURL, "/"),
		http:      defaultHTTPClient(),
		userAgent: DefaultUserAgent,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// defaultHTTPClient is the http.Client of every Client made without
// WithHTTPClient: built once, so that Clients made apart still share their
// connections, and on its own Transport rather than http.DefaultTransport
// (which any package in a program may change): proxies from the
// environment, HTTP/2 over TLS when offered, bounded dials and TLS
// handshakes, idle connections kept per host for concurrent calls and
// closed after 90 s.
var defaultHTTPClient = sync.OnceValue(func() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
	}}
})

// WithHTTPClient makes the client send its requests through hc (for its
// transport, timeouts or test hooks). A nil hc is ignored.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithToken returns a copy of c that authenticates every request with
// "Authorization: Bearer accessToken". The copy shares the HTTP client, so
// creating one per request is cheap; c itself is unchanged.
func (c *Client) WithToken(accessToken string) *Client {
	cp := *c
	cp.token = accessToken
	return &cp
}

// contextKey keeps this package's context values apart from everyone else's.
type contextKey int

const (
	requestIDKey contextKey = iota
	forwardedKey
)

type forwarded struct{ clientIP, userAgent string }

// WithRequestID returns a context whose requests carry X-Request-ID: id, so
// the backend's logs and the caller's share one request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// WithForwarded returns a context whose requests are made on behalf of a
// browser: X-Forwarded-For carries clientIP and User-Agent carries userAgent
// (instead of the client's own), so the backend records the real device of
// each session. Empty values are not sent.
func WithForwarded(ctx context.Context, clientIP, userAgent string) context.Context {
	return context.WithValue(ctx, forwardedKey, forwarded{clientIP: clientIP, userAgent: userAgent})
}

// request describes one API call before it is sent.
type request struct {
	method string
	path   string // already escaped, starting with "/"
	query  url.Values
	body   io.Reader
	// contentType of body; empty when there is no body.
	contentType string
	accept      string
}

// jsonRequest encodes in as the JSON body of a request (nil in: no body).
func jsonRequest(method, path string, query url.Values, in any) (request, error) {
	r := request{method: method, path: path, query: query, accept: "application/json, " + api.ProblemContentType}
	if in == nil {
		return r, nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return r, fmt.Errorf("client: %s %s: encode request: %w", method, path, err)
	}
	r.body = bytes.NewReader(b)
	r.contentType = "application/json"
	return r, nil
}

// send performs r and returns the response when its status is 2xx. Any other
// status is turned into a *api.Problem after the body has been consumed and
// closed; on success the caller must close the body (see decodeJSON).
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	resp, err := c.roundTrip(ctx, r)
	if err != nil {
		return nil, err
	}
	if !is2xx(resp.StatusCode) {
		return nil, problemFromResponse(resp, readErrorBody(resp))
	}
	return resp, nil
}

// roundTrip performs r whatever the answer's status; only transport failures
// are errors.
func (c *Client) roundTrip(ctx context.Context, r request) (*http.Response, error) {
	req, err := c.newHTTPRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	return resp, nil
}

func is2xx(status int) bool { return status >= 200 && status <= 299 }

func (c *Client) newHTTPRequest(ctx context.Context, r request) (*http.Request, error) {
	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, r.body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if id, _ := ctx.Value(requestIDKey).(string); id != "" {
		req.Header.Set("X-Request-ID", id)
	}
	if fw, ok := ctx.Value(forwardedKey).(forwarded); ok {
		if fw.clientIP != "" {
			req.Header.Set("X-Forwarded-For", fw.clientIP)
		}
		if fw.userAgent != "" {
			req.Header.Set("User-Agent", fw.userAgent)
		}
	}
	return req, nil
}

// do sends r and decodes a 2xx JSON answer into out (nil out: the body, if
// any, is discarded, as for 204 No Content).
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	return decodeJSON(resp, r, out)
}

// doJSON is the common case: encode in (may be nil), send, decode into out.
func (c *Client) doJSON(ctx context.Context, method, path string, query url.Values, in, out any) error {
	r, err := jsonRequest(method, path, query, in)
	if err != nil {
		return err
	}
	return c.do(ctx, r, out)
}

// decodeJSON decodes resp's body into out and always drains and closes the
// body, so the connection goes back to the pool.
func decodeJSON(resp *http.Response, r request, out any) error {
	defer drainAndClose(resp.Body)
	if out == nil {
		return nil
	}
	if ct := mediaType(resp.Header.Get("Content-Type")); !isJSON(ct) {
		return fmt.Errorf("client: %s %s: unexpected content type %q in a %d answer (is the base URL the backend?)",
			r.method, r.path, ct, resp.StatusCode)
	}
	// Unknown fields are ignored on purpose: a newer backend may add fields.
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decode response: %w", r.method, r.path, err)
	}
	return nil
}

// drainLimit bounds how much of an unread body is discarded to let the
// connection be reused; beyond it closing the connection is cheaper.
const drainLimit = 256 << 10

func drainAndClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
	_ = body.Close()
}

// mediaType returns the lower-cased media type of a Content-Type header,
// without parameters.
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func isJSON(mt string) bool {
	return mt == "application/json" || mt == api.ProblemContentType || strings.HasSuffix(mt, "+json")
}

// pathf builds an API path, escaping every argument as one path segment, so
// an id can never reach another endpoint.
func pathf(format string, segments ...string) string {
	args := make([]any, len(segments))
	for i, s := range segments {
		args[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(format, args...)
}
