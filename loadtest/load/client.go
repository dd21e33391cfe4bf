package load

import (
	"net"
	"net/http"
	"time"
)

// NewTransport is the one transport tuned for load generation against a
// loopback server: keep-alive connections, one idle connection kept per
// worker (so a closed loop never re-dials), no transparent gzip (that would
// measure decompression), no proxy from the environment, HTTP/1.1 only.
func NewTransport(connections int) *http.Transport {
	if connections < 1 {
		connections = 1
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          connections,
		MaxIdleConnsPerHost:   connections,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		DisableKeepAlives:     false,
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: 0,
	}
}

// NewClient wraps NewTransport. It does not follow redirects: a load test
// measures the answer it asked for.
func NewClient(connections int) *http.Client {
	return &http.Client{
		Transport: NewTransport(connections),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
