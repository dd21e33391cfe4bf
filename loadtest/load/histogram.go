package load

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into
// 2^subBits linear buckets, so a recorded value is known to within
// 1/2^subBits (< 0.1 %) of itself: 20 µs at 20 ms, fine enough to compare
// the gaps of two streams paced 20 ms apart.
const subBits = 10

const (
	subBuckets = 1 << subBits
	// maxShift covers durations up to 2^(maxShift+subBits+1) ns (~2.3 min);
	// longer ones land in the last bucket (max stays exact).
	maxShift   = 26
	numBuckets = subBuckets + (maxShift+1)*subBuckets
)

// Histogram records durations in bounded memory (about 220 KiB whatever
// the count), like an HDR histogram: log-linear buckets with < 0.1 %
// relative error. Min, max and mean are exact. The zero value is not usable; call
// NewHistogram. A Histogram is not safe for concurrent use: give each
// goroutine its own and Merge them.
type Histogram struct {
	counts []uint64
	count  uint64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]uint64, numBuckets)}
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.count == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.count++
	h.sum += d
}

// Merge adds every value recorded in other.
func (h *Histogram) Merge(other *Histogram) {
	if other.count == 0 {
		return
	}
	for i, c := range other.counts {
		h.counts[i] += c
	}
	if h.count == 0 || other.min < h.min {
		h.min = other.min
	}
	if other.max > h.max {
		h.max = other.max
	}
	h.count += other.count
	h.sum += other.sum
}

// Count is how many values were recorded.
func (h *Histogram) Count() uint64 { return h.count }

// Quantile returns the value below which the fraction q (0..1) of the
// recorded values lie, e.g. 0.99 for p99; 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	// rank is the 1-based position of the wanted value in sorted order
	// (nearest-rank definition).
	rank := uint64(q*float64(h.count) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return h.clamp(bucketMiddle(i))
		}
	}
	return h.max
}

// clamp keeps an estimate inside the exact recorded range, so a single
// value reads back exactly and no quantile exceeds max.
func (h *Histogram) clamp(d time.Duration) time.Duration {
	return min(max(d, h.min), h.max)
}

// Summary is the histogram's usual figures.
func (h *Histogram) Summary() Summary {
	s := Summary{Count: h.count, Min: h.min, Max: h.max,
		P50: h.Quantile(0.50), P90: h.Quantile(0.90), P99: h.Quantile(0.99)}
	if h.count > 0 {
		s.Mean = h.sum / time.Duration(h.count)
	}
	return s
}

// Summary condenses a distribution of durations.
type Summary struct {
	Count uint64        `json:"count"`
	Min   time.Duration `json:"min_ns"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

// bucketOf maps a value in nanoseconds to its bucket: values below
// subBuckets have one bucket each; above, a power-of-two range [2^k, 2^(k+1))
// is split into subBuckets equal parts.
func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	if shift > maxShift {
		return numBuckets - 1
	}
	return subBuckets + shift*subBuckets + int(v>>uint(shift)) - subBuckets
}

// bucketMiddle is the midpoint of the values a bucket holds.
func bucketMiddle(i int) time.Duration {
	if i < subBuckets {
		return time.Duration(i)
	}
	shift := uint((i - subBuckets) / subBuckets)
	low := uint64(subBuckets+(i-subBuckets)%subBuckets) << shift
	width := uint64(1) << shift
	return time.Duration(low + width/2)
}
