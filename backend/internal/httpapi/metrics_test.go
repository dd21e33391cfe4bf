package httpapi

import (
	"github.com/duckgate/duckgate/backend/internal/httpx"

	"database/sql"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the real database, for the pool statistics
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func metricsServer(t *testing.T, db *sql.DB) (*testServer, *Metrics) {
	t.Helper()
	var pool prometheus.Collector
	if db != nil {
		pool = collectors.NewDBStatsCollector(db, "duckdb")
	}
	m, err := NewMetrics(prometheus.NewRegistry(), pool)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, m.Middleware())
	s.engine.GET("/users/:id", func(c *gin.Context) { httpx.JSON(c, http.StatusOK, map[string]string{}) })
	s.engine.GET("/metrics", gin.WrapH(m.Handler()))
	return s, m
}

func scrape(t *testing.T, s *testServer) string {
	t.Helper()
	rec := s.do(httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	return rec.Body.String()
}

func TestMetricsCountRequestsByRouteTemplate(t *testing.T) {
	s, _ := metricsServer(t, nil)
	s.do(httptest.NewRequest(http.MethodGet, "/users/aaa", nil))
	s.do(httptest.NewRequest(http.MethodGet, "/users/bbb", nil))
	s.do(httptest.NewRequest(http.MethodGet, "/random/path/one", nil))
	s.do(httptest.NewRequest("BREW", "/users/ccc", nil))

	body := scrape(t, s)

	for _, want := range []string{
		`http_requests_total{method="GET",route="/users/:id",status="200"} 2`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_requests_total{method="OTHER",route="unmatched",status="405"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/users/:id"} 2`,
		`http_request_duration_seconds_bucket{method="GET",route="/users/:id",le="120"} 2`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	for _, raw := range []string{"/users/aaa", "/random/path/one", "BREW"} {
		if strings.Contains(body, raw) {
			t.Errorf("raw request value %q became a label", raw)
		}
	}
}

func TestMetricsDatabasePool(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	s, _ := metricsServer(t, db)

	body := scrape(t, s)

	if !strings.Contains(body, `go_sql_open_connections{db_name="duckdb"} 1`) {
		t.Errorf("no pool statistics with one open connection in:\n%s", grepLines(body, "go_sql_"))
	}
}

func TestNewMetricsRefusesDoubleRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg, nil); err == nil {
		t.Error("registering the same metrics twice on one registry succeeded")
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
