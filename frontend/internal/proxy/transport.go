package proxy

import (
	"net"
	"net/http"
	"time"
)

// Connection settings toward the backend.
const (
	backendDialTimeout  = 10 * time.Second
	backendTCPKeepAlive = 30 * time.Second
	backendTLSTimeout   = 10 * time.Second
	// backendIdleTimeout closes a pooled connection unused for that long;
	// the backend's own idle timeout is longer (120 s).
	backendIdleTimeout = 90 * time.Second
	// backendIdleConns keeps a connection per concurrent browser call idle
	// between calls: a thousand open streams must not re-dial when the
	// next wave of calls comes.
	backendIdleConns = 1024
)

// NewTransport is the connection pool to the backend, used by the /api
// proxy and by the frontend's own backend client: net/http's Transport,
// configured for a nearby API server that streams.
//
//   - HTTP/1.1 keep-alive connections, up to backendIdleConns kept idle: the
//     backend is near, and a stream per connection keeps one slow reader
//     from holding back the others (no shared HTTP/2 flow-control window).
//   - No transparent gzip (DisableCompression): bytes pass through to the
//     browser as the backend sent them, with their own Content-Encoding.
//   - Proxies from HTTP_PROXY/HTTPS_PROXY/NO_PROXY, decided per request.
//   - Dial and TLS handshake bounded, idle connections closed after
//     backendIdleTimeout. No response-header timeout: a non-streamed AI
//     call answers only when done (the backend bounds it with AI_TIMEOUT),
//     and each call is bounded by its own context.
//
// net/http's Transport costs more CPU per call than a hand-written HTTP/1.1
// client would (a reading and a writing goroutine per connection), and we
// take that: it does not resend a request the backend may have acted on,
// never pools a connection after a protocol switch, and drops idle
// connections the backend closed as soon as they close.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: backendDialTimeout, KeepAlive: backendTCPKeepAlive}).DialContext,
		TLSHandshakeTimeout: backendTLSTimeout,
		DisableCompression:  true,
		IdleConnTimeout:     backendIdleTimeout,
		MaxIdleConns:        backendIdleConns,
		MaxIdleConnsPerHost: backendIdleConns,
	}
}
