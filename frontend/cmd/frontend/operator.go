package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/duckgate/duckgate/frontend/internal/config"
)

// healthcheck probes /readyz of the frontend listening on FRONTEND_ADDR, so
// container images need no curl. It exits non-zero unless the frontend
// answers 200, which it does only while the backend is reachable.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	addr, err := dialable(cfg.Addr)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return err
	}
	client := newProbeClient()
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: /readyz answered %s", resp.Status)
	}
	return nil
}

// probeTimeout bounds the readiness probe, dial to answer. It stays below
// the images' HEALTHCHECK --timeout (5s), so a slow probe fails with its
// own reason instead of being killed.
const probeTimeout = 3 * time.Second

// newProbeClient is the healthcheck command's HTTP client: one request to
// this host's own listener, bounded by probeTimeout, never through a proxy
// (HTTP_PROXY may be set for the service's outgoing calls) and without
// keep-alive.
func newProbeClient() *http.Client {
	return &http.Client{
		Timeout: probeTimeout,
		Transport: &http.Transport{
			Proxy:             nil,
			DialContext:       (&net.Dialer{Timeout: probeTimeout}).DialContext,
			DisableKeepAlives: true,
		},
	}
}

// dialable turns a listen address into one a client on the same host can
// reach: a wildcard host (empty, 0.0.0.0 or ::) becomes loopback.
func dialable(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("FRONTEND_ADDR %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// printVars writes the variables the frontend reads, with their defaults,
// as a JSON array of {"name","default","help","secret"}.
func printVars(stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(config.Vars())
}
