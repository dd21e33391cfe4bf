package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// streamingBackend answers like the backend's POST /ai/chat with stream:
// the headers go out with the first event, each event is flushed at once.
func streamingBackend(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		for _, word := range []string{"a", "b", "c"} {
			_, _ = io.WriteString(w, `data: {"choices":[{"delta":{"content":"`+word+`"}}]}`+"\n\n")
			w.(http.Flusher).Flush()
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	b.Cleanup(srv.Close)
	return srv
}

// firstEvent posts a chat request to url and returns how long the first
// data line took, reading the rest of the stream afterwards.
func firstEvent(b *testing.B, client *http.Client, url string, access string) time.Duration {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"bench bench"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "dg_access", Value: "proxy-test-binding-000~" + access})
	req.AddCookie(&http.Cookie{Name: "dg_refresh", Value: "proxy-test-binding-000~refresh-1"})
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadSlice('\n')
	took := time.Since(start)
	if err != nil || !bytes.HasPrefix(line, []byte("data:")) {
		b.Fatalf("first line %q, %v", line, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return took
}

// BenchmarkStreamFirstEvent times a stream's first event through the proxy
// and directly from the backend, one request at a time on keep-alive
// connections; first-event-p50-µs is the figure make bench judges.
func BenchmarkStreamFirstEvent(b *testing.B) {
	backend := streamingBackend(b)
	fe := startFrontend(b, backend, 1<<20)
	access := token("bench")
	for _, tc := range []struct{ name, url string }{
		{"direct", backend.URL + "/ai/chat"},
		{"proxied", fe.URL + "/api/ai/chat"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer client.CloseIdleConnections()
			times := make([]time.Duration, 0, b.N)
			for b.Loop() {
				times = append(times, firstEvent(b, client, tc.url, access))
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds()), "first-event-p50-µs")
		})
	}
}
