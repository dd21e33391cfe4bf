package openrouter

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// Connection settings toward OpenRouter.
const (
	dialTimeout         = 10 * time.Second
	tcpKeepAlive        = 30 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	// idleConnTimeout closes a pooled connection unused for that long.
	idleConnTimeout = 90 * time.Second
	// maxIdleConnsPerHost keeps enough idle HTTP/1.1 connections for the
	// hundreds of concurrent calls a busy gateway makes to one upstream
	// (over HTTP/2 they share a few connections anyway).
	maxIdleConnsPerHost = 512
	maxIdleConns        = 1024
	// tlsSessionCacheSize is how many TLS sessions are remembered for
	// resumption: a reconnect to OpenRouter skips the full handshake.
	tlsSessionCacheSize = 64
	// Buffer sizes of each HTTP/1.1 connection. net/http's default is 4 KiB
	// each way, kept for as long as the connection lives (open streams and
	// idle keep-alives alike). A request's headers and a typical chat body
	// fit in 2 KiB; larger bodies go straight to the socket past the buffer,
	// and large answers are read directly into the caller's buffer, so
	// little is lost while hundreds of open streams use half the memory.
	connReadBufferSize  = 2 << 10
	connWriteBufferSize = 2 << 10
)

// newTransport is the connection pool toward OpenRouter: net/http's
// Transport, configured for an upstream API on the internet.
//
//   - HTTP/2 when the server offers it (ForceAttemptHTTP2: net/http turns it
//     off by itself once a TLS config or dialer is set): concurrent calls
//     share a connection instead of holding one each.
//   - TLS sessions are cached, so a new connection resumes one instead of
//     doing a full handshake.
//   - Proxies from HTTPS_PROXY/HTTP_PROXY/NO_PROXY, decided per request.
//   - Dial and TLS handshake bounded; responseHeaderTimeout bounds the wait
//     for the answer's headers (the client's own call timeout, so neither
//     cuts the other short; streams are then bounded by their idle timer);
//     idle connections closed after idleConnTimeout.
//   - Small per-connection buffers (see connReadBufferSize).
//
// net/http's Transport costs more CPU per call than a hand-written HTTP/1.1
// client would (a reading and a writing goroutine per connection), and we
// take that: it does not resend a request the server may have acted on,
// never pools a connection after a protocol switch, and drops idle
// connections the server closed as soon as they close.
func newTransport(responseHeaderTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(tlsSessionCacheSize)},
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       idleConnTimeout,
		MaxIdleConns:          maxIdleConns,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		ReadBufferSize:        connReadBufferSize,
		WriteBufferSize:       connWriteBufferSize,
	}
}
