// Package proxy forwards the browser's /api/* calls to the backend's /*,
// adding the session's bearer token. Only the API is forwarded, not the
// backend's token and operations endpoints (see apiFamilies). Responses
// stream through unbuffered (chat answers arrive as server-sent events),
// the browser's cookies never reach the backend, and a 401 is retried once
// after refreshing the token when the request body can be sent again.
package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	pathpkg "path"
	"strings"
	"sync"

	"github.com/duckgate/duckgate/frontend/internal/problem"
	"github.com/duckgate/duckgate/frontend/internal/session"
)

// Prefix is the path under which the frontend exposes the backend API.
const Prefix = "/api"

// Options configure the proxy.
type Options struct {
	// ReplayBytes is the largest request body buffered so the request can be
	// retried after a refresh; larger bodies stream and are not retried.
	ReplayBytes int64
	// Transport sends requests to the backend (nil: a tuned default).
	Transport http.RoundTripper
	Logger    *slog.Logger
	// RequestID returns the id of the browser's request, passed on as
	// X-Request-ID so both processes log the same id.
	RequestID func(*http.Request) string
}

// New returns an http.Handler proxying Prefix+"/*" to backend+"/*". Requests
// must carry a session (session.NewContext), as the session middleware does.
func New(backend *url.URL, opts Options) http.Handler {
	if opts.Transport == nil {
		opts.Transport = NewTransport()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RequestID == nil {
		opts.RequestID = func(r *http.Request) string { return r.Header.Get("X-Request-ID") }
	}
	p := &handler{opts: opts}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { p.rewrite(backend, pr) },
		Transport:      &retryOn401{next: opts.Transport},
		FlushInterval:  0, // immediateWriter flushes every write itself
		BufferPool:     newBufferPool(),
		ModifyResponse: stripBackendHeaders,
		ErrorHandler:   p.backendUnreachable,
	}
	return p
}

type handler struct {
	opts Options
	rp   *httputil.ReverseProxy
}

func (p *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, Prefix)
	if family(path) == "auth" {
		p.fail(w, r, http.StatusNotFound, "The token endpoints are not available to the browser. Use the sign-in page.")
		return
	}
	if !forwarded(path) {
		p.fail(w, r, http.StatusNotFound, "There is no API at this address.")
		return
	}
	if err := makeReplayable(r, p.opts.ReplayBytes); err != nil {
		p.fail(w, r, http.StatusBadRequest, "The request body could not be read.")
		return
	}
	out := newImmediateWriter(w)
	defer out.finish()
	p.rp.ServeHTTP(out, r.WithContext(context.WithValue(r.Context(), writerKey{}, w)))
}

// apiFamilies are the first path segments of the backend's API that the
// proxy forwards: what pages and their scripts call. Nothing else the
// backend serves reaches browsers through the frontend:
//
//   - /auth answers with tokens in the body, which page scripts must never
//     see; signing in and out goes through the frontend's own forms;
//   - /metrics, /docs, /openapi.json, /healthz, /readyz and /.well-known
//     are for operators and integrators, who reach the backend itself. The
//     frontend answers its own /healthz and /readyz; the backend's would
//     tell anyone its build and its dependencies' state.
//
// An allow-list rather than a deny-list, so a new operations endpoint of
// the backend stays private by default: a new API family that pages use is
// added here.
var apiFamilies = map[string]bool{
	"users":         true,
	"admin":         true,
	"ai":            true,
	"generate":      true,
	"conversations": true,
}

// forwarded reports whether the backend path (the /api path without its
// prefix) is one the proxy forwards: a clean path (no "." or ".." segment,
// no empty one, which could name another endpoint once the backend or a
// proxy in front of it cleans it) in one of apiFamilies.
func forwarded(path string) bool {
	if !strings.HasPrefix(path, "/") {
		return false
	}
	clean := pathpkg.Clean(path)
	if clean != path && clean+"/" != path {
		return false
	}
	return apiFamilies[family(path)]
}

// family is the first segment of a path.
func family(path string) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return first
}

// writerKey carries the browser's ResponseWriter to ModifyResponse.
type writerKey struct{}

func (p *handler) rewrite(backend *url.URL, pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	out.URL.Path = strings.TrimPrefix(in.URL.Path, Prefix)
	if in.URL.RawPath != "" {
		out.URL.RawPath = strings.TrimPrefix(in.URL.RawPath, Prefix)
	}
	pr.SetURL(backend)
	pr.SetXForwarded()

	// The browser's cookies hold the tokens and belong to this origin only;
	// the backend authenticates with the bearer token alone.
	out.Header.Del("Cookie")
	out.Header.Del("Authorization")
	out.Header.Del("X-CSRF-Token")
	out.Header.Set("X-Request-ID", p.opts.RequestID(in))

	if s := session.FromContext(in.Context()); s != nil && s.SignedIn() {
		if tok, err := s.AccessToken(in.Context()); err == nil {
			out.Header.Set("Authorization", "Bearer "+tok)
		}
	}
}

// stripBackendHeaders drops response headers the browser must not get from
// the backend: cookies are the frontend's business, and X-Request-ID was
// already set by the frontend with the same value. Where both set a header
// (Cache-Control, security headers), the backend's value replaces the
// frontend's page default instead of being sent twice.
func stripBackendHeaders(resp *http.Response) error {
	resp.Header.Del("Set-Cookie")
	resp.Header.Del("X-Request-Id")
	if w, ok := resp.Request.Context().Value(writerKey{}).(http.ResponseWriter); ok {
		for key := range resp.Header {
			w.Header().Del(key)
		}
	}
	return nil
}

func (p *handler) backendUnreachable(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the browser went away (e.g. a stopped chat): nothing to say
	}
	p.opts.Logger.ErrorContext(r.Context(), "proxy: backend call failed", "path", r.URL.Path, "err", err, "request_id", p.opts.RequestID(r))
	p.fail(w, r, http.StatusBadGateway, "The service is unreachable right now. Try again in a moment.")
}

// fail answers the browser with a problem of the proxy's own.
func (p *handler) fail(w http.ResponseWriter, r *http.Request, status int, detail string) {
	problem.Write(w, problem.New(status, detail, p.opts.RequestID(r)))
}

// makeReplayable buffers a body of at most limit bytes and sets GetBody, so
// the retry after a refresh can send it again. A larger body is left
// streaming (with what was read put back in front) and GetBody stays nil.
func makeReplayable(r *http.Request, limit int64) error {
	if r.Body == nil || r.Body == http.NoBody {
		r.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return nil
	}
	if r.ContentLength > limit {
		return nil
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(head)) > limit { // chunked and too large: stream the rest
		r.Body = readCloser{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		return nil
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(head))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(head)), nil }
	r.ContentLength = int64(len(head))
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// bufferPool hands ReverseProxy small reusable copy buffers: with a thousand
// concurrent streams, 8 KiB instead of the default 32 KiB each keeps memory low.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }
