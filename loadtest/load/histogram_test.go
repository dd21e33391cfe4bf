package load

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantilesMatchSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := NewHistogram()
	var samples []time.Duration
	for range 100_000 {
		// Log-uniform between 10µs and 1s, the range latencies span.
		d := time.Duration(math.Exp(rng.Float64()*math.Log(1e5)) * 1e4)
		samples = append(samples, d)
		h.Record(d)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := samples[int(math.Ceil(q*float64(len(samples))))-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.001 {
			t.Errorf("p%g = %v, sorted samples say %v (%.3f%% off, want < 0.1%%)", q*100, got, want, rel*100)
		}
	}
	if h.Summary().Max != samples[len(samples)-1] || h.Summary().Min != samples[0] {
		t.Errorf("min/max = %v/%v, want exact %v/%v", h.Summary().Min, h.Summary().Max, samples[0], samples[len(samples)-1])
	}
}

func TestHistogramSingleValueReadsBackExactly(t *testing.T) {
	h := NewHistogram()
	h.Record(1234567 * time.Nanosecond)
	s := h.Summary()
	if s.P50 != 1234567 || s.P99 != 1234567 || s.Mean != 1234567 || s.Count != 1 {
		t.Errorf("summary of one value = %+v", s)
	}
}

func TestHistogramMergeEqualsRecordingTogether(t *testing.T) {
	a, b, both := NewHistogram(), NewHistogram(), NewHistogram()
	for i := range 1000 {
		d := time.Duration(i) * time.Microsecond
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
		both.Record(d)
	}
	a.Merge(b)
	if a.Summary() != both.Summary() {
		t.Errorf("merged %+v, recorded together %+v", a.Summary(), both.Summary())
	}
}

func TestHistogramEmptyAndHugeValues(t *testing.T) {
	h := NewHistogram()
	if s := h.Summary(); s != (Summary{}) {
		t.Errorf("empty summary = %+v", s)
	}
	h.Record(-time.Second) // clock step backwards: counted as zero
	h.Record(10 * time.Hour)
	if got := h.Quantile(1); got != 10*time.Hour {
		t.Errorf("max = %v, want 10h", got)
	}
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("p50 of {0, 10h} = %v, want 0", got)
	}
}
