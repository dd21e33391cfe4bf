package client

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/duckgate/duckgate/shared/api"
)

// Healthz reports whether the backend process is alive (GET /healthz).
func (c *Client) Healthz(ctx context.Context) (*api.Health, error) {
	var out api.Health
	if err := c.doJSON(ctx, http.MethodGet, "/healthz", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Readyz reports whether the backend's dependencies are reachable
// (GET /readyz). Like DBHealth, a 503 whose body is a Health report returns
// both the report (with its Checks) and a *api.Problem error.
func (c *Client) Readyz(ctx context.Context) (*api.Health, error) {
	return getReport(ctx, c, "/readyz", func(h *api.Health) (bool, string) {
		return h.Status != "", "not ready" + failedChecks(h.Checks)
	})
}

// failedChecks lists the checks that are not "ok", in a stable order.
func failedChecks(checks map[string]string) string {
	var failed []string
	for name, state := range checks {
		if state != "ok" {
			failed = append(failed, name+": "+state)
		}
	}
	if len(failed) == 0 {
		return ""
	}
	sort.Strings(failed)
	return " (" + strings.Join(failed, ", ") + ")"
}

// getReport GETs a status report that the backend sends with 200 when all is
// well and with 503 when not. On a 503 whose body is such a report (judged
// by valid), it returns the report and a *api.Problem whose detail comes from
// valid; any other failure returns no report.
func getReport[T any](ctx context.Context, c *Client, path string, valid func(*T) (ok bool, detail string)) (*T, error) {
	r, err := jsonRequest(http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.roundTrip(ctx, r)
	if err != nil {
		return nil, err
	}
	var report T
	if is2xx(resp.StatusCode) {
		if err := decodeJSON(resp, r, &report); err != nil {
			return nil, err
		}
		return &report, nil
	}
	body := readErrorBody(resp)
	problem := problemFromResponse(resp, body)
	if resp.StatusCode != http.StatusServiceUnavailable || mediaType(resp.Header.Get("Content-Type")) != "application/json" {
		return nil, problem
	}
	if json.Unmarshal(body, &report) != nil {
		return nil, problem
	}
	ok, detail := valid(&report)
	if !ok {
		return nil, problem
	}
	if problem.Type == "about:blank" { // made up by the client: say what the report says
		problem.Detail = detail
	}
	return &report, problem
}
