package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestMarkdownHasOneEscapedLinePerRow(t *testing.T) {
	rep := report{Cores: 2, Duration: 5 * time.Second, Rows: []row{
		{Scenario: "healthz", Measured: "6,000/s", Target: "baseline", Verdict: info},
		{Scenario: "users-me", Measured: "a | b\nc", Baseline: "healthz 6,000/s", Target: "90% / ≥ 70%", Verdict: pass},
		skipRow("chat-latency", gatewayMissingReason),
		errorRow("login", errors.New("backend exited")),
	}}
	var out bytes.Buffer
	if err := rep.writeMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	var tableRows []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "| ") {
			tableRows = append(tableRows, line)
		}
	}
	if len(tableRows) != 1+len(rep.Rows) {
		t.Fatalf("%d table lines, want header + %d rows:\n%s", len(tableRows), len(rep.Rows), out.String())
	}
	if want := `| users-me | a \| b c | healthz 6,000/s | 90% / ≥ 70% | pass |`; tableRows[2] != want {
		t.Errorf("row = %q, want %q", tableRows[2], want)
	}
	if !strings.Contains(tableRows[3], "skipped: backend has no /ai/chat yet") || !strings.HasSuffix(tableRows[3], "| skipped |") {
		t.Errorf("skip row = %q", tableRows[3])
	}
	if !strings.Contains(tableRows[4], "backend exited") || !strings.HasSuffix(tableRows[4], "| error |") {
		t.Errorf("error row = %q", tableRows[4])
	}
}

func TestOnlyMissedTargetsAndErrorsFailTheRun(t *testing.T) {
	ok := report{Rows: []row{{Verdict: pass}, {Verdict: info}, skipRow("x", "later")}}
	if ok.failed() {
		t.Error("passes, baselines and skips made the run fail")
	}
	for _, v := range []verdict{fail, broken} {
		if !(report{Rows: []row{{Verdict: pass}, {Verdict: v}}}).failed() {
			t.Errorf("a %q row did not fail the run", v)
		}
	}
}

func TestJSONReportKeepsFigures(t *testing.T) {
	rep := report{Cores: 2, Rows: []row{{Scenario: "refresh", Verdict: fail, Values: map[string]float64{"rps": 371}}}}
	var out bytes.Buffer
	if err := rep.writeJSON(&out); err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Rows) != 1 || back.Rows[0].Values["rps"] != 371 || back.Rows[0].Verdict != fail {
		t.Errorf("round trip = %+v", back)
	}
}

func TestFigureFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtRPS(1234567.4), "1,234,567/s"},
		{fmtRPS(999), "999/s"},
		{fmtDur(250 * time.Microsecond), "250 µs"},
		{fmtDur(1500 * time.Microsecond), "1.50 ms"},
		{fmtDur(-2 * time.Second), "-2.00 s"},
		{fmtMs(300 * time.Microsecond), "+0.300 ms"},
		{fmtMiB(150 << 20), "150.0 MiB"},
		{fmtPct(0.7), "70%"},
		{fmtPct(0.6967), "69%"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-duration", "2s", "-only", "^refresh", "-strict"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.duration != 2*time.Second || !cfg.strict || cfg.json {
		t.Errorf("cfg = %+v", cfg)
	}
	refresh := scenario{name: "refresh", rowNames: []string{"refresh-durability"}}
	if !refresh.selected(cfg) || (scenario{name: "login"}).selected(cfg) {
		t.Error("-only ^refresh selects the wrong scenarios")
	}
	if _, err := parseFlags([]string{"-only", "("}, io.Discard); err == nil {
		t.Error("a broken -only regexp was accepted")
	}
	if _, err := parseFlags([]string{"-duration", "1ms"}, io.Discard); err == nil {
		t.Error("a 1ms duration was accepted")
	}
}

func TestScenarioNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range scenarioNames() {
		if seen[n] {
			t.Errorf("scenario name %q twice: -only could not tell them apart", n)
		}
		seen[n] = true
	}
	if !seen["idle-rss"] || !seen["refresh-durability"] || !seen["chat-streams-500"] {
		t.Errorf("names %v miss rows of the issue", scenarioNames())
	}
}
