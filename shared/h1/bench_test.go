package h1

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// The benchmarks send a small JSON POST to a loopback server, 50 at a
// time, with net/http's transport and with this one. cpu-ns/op is the
// whole process (server included), the steadier figure on a shared machine.

const benchBody = `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"bench"}]}`

func benchServer(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"gen-1","choices":[{"message":{"role":"assistant","content":"bench"}}]}`))
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func benchRoundTrips(b *testing.B, rt http.RoundTripper) {
	url := benchServer(b)
	client := &http.Client{Transport: rt}
	b.ReportAllocs()
	b.SetParallelism(25) // 50 callers on 2 cores
	start := processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(benchBody)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64((processCPU(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func BenchmarkRoundTripNetHTTP(b *testing.B) {
	benchRoundTrips(b, &http.Transport{MaxIdleConnsPerHost: 256})
}

func BenchmarkRoundTripH1(b *testing.B) {
	benchRoundTrips(b, New(Options{}))
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
