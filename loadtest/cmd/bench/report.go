package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/duckgate/duckgate/loadtest/load"
)

// verdict is a row's outcome.
type verdict string

const (
	pass    verdict = "pass"
	fail    verdict = "FAIL"
	info    verdict = "info"    // a baseline or a figure without a target
	skipped verdict = "skipped" // the system lacks what the scenario needs
	broken  verdict = "error"   // the scenario itself could not run
)

// row is one line of the report.
type row struct {
	Scenario string  `json:"scenario"`
	Measured string  `json:"measured"`
	Baseline string  `json:"baseline"`
	Target   string  `json:"target"`
	Verdict  verdict `json:"verdict"`
	// Note explains a skip or an error, or adds context.
	Note string `json:"note,omitempty"`
	// Values are the row's figures for machines (seconds, bytes, ratios).
	Values map[string]float64 `json:"values,omitempty"`
	// Results are the raw load results behind the row.
	Results map[string]load.Result `json:"results,omitempty"`
}

func skipRow(name, why string) row {
	return row{Scenario: name, Verdict: skipped, Note: "skipped: " + why}
}

func errorRow(name string, err error) row {
	return row{Scenario: name, Verdict: broken, Note: err.Error()}
}

// judge is pass when ok, fail otherwise.
func judge(ok bool) verdict {
	if ok {
		return pass
	}
	return fail
}

// report is the whole output.
type report struct {
	Started  time.Time     `json:"started"`
	Cores    int           `json:"cores"`
	Duration time.Duration `json:"duration_ns"`
	Rows     []row         `json:"rows"`
	// LoadBefore and LoadAfter are the machine's load averages (1, 5, 15
	// min) around the run: a busy machine makes every figure worse.
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
}

// loadAverage reads /proc/loadavg's three averages.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}

// failed says whether any row failed or could not run.
func (r report) failed() bool {
	for _, row := range r.Rows {
		if row.Verdict == fail || row.Verdict == broken {
			return true
		}
	}
	return false
}

func (r report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "duckgate bench: %d cores, %s per scenario, %s, load average %s before, %s after\n\n",
		r.Cores, r.Duration, r.Started.Format(time.RFC3339), r.LoadBefore, r.LoadAfter)
	b.WriteString("| scenario | measured | baseline (same run) | ratio / target | result |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		measured := row.Measured
		switch {
		case row.Note != "" && measured != "":
			measured += "; " + row.Note
		case row.Note != "":
			measured = row.Note
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", row.Scenario, cell(measured), cell(row.Baseline),
			cell(row.Target), row.Verdict)
	}
	b.WriteString("\nFigures depend on the machine and on what else runs on it; compare rows of the same run.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// cell keeps a table cell on one line and its pipes from splitting it.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if s == "" {
		return "—"
	}
	return s
}

// Formatting of figures.

func fmtRPS(v float64) string { return fmt.Sprintf("%s/s", thousands(v)) }

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	if len(s) <= 3 {
		return s
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtDur(-d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%+.3f ms", float64(d)/float64(time.Millisecond))
}

func fmtMiB(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }

// fmtPct rounds down, so a ratio just under its target never reads as
// reaching it.
func fmtPct(ratio float64) string { return fmt.Sprintf("%.0f%%", math.Floor(ratio*100)) }

// latencies is the usual "p50 / p99" pair with the error count when any.
func latencies(r load.Result) string {
	s := fmt.Sprintf("p50 %s, p99 %s", fmtDur(r.Latency.P50), fmtDur(r.Latency.P99))
	if r.Failures > 0 {
		s += fmt.Sprintf(", %d errors %v", r.Failures, statusCounts(r))
	}
	return s
}

// statusCounts lists the non-2xx statuses seen, "0" meaning no answer.
func statusCounts(r load.Result) string {
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(r.ByStatus)) {
		if status < 200 || status > 299 {
			parts = append(parts, fmt.Sprintf("%d×%d", r.ByStatus[status], status))
		}
	}
	if len(r.FailureSamples) > 0 {
		parts = append(parts, "e.g. "+r.FailureSamples[0])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
