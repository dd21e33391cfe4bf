// Command bench is the harness behind `make bench`: it builds the backend,
// the fake OpenRouter and the frontend, starts them on loopback ports with
// fresh data directories, prepares users and tokens through the API, runs
// the load scenarios of issues 2-4 and prints one Markdown table comparing
// each figure with a baseline measured in the same run and with its target.
//
// It only reports by default; -strict makes a failed target exit 1.
// Scenarios whose feature is not there yet (the AI gateway, the frontend)
// are listed as skipped, with the reason.
//
//	go run ./loadtest/cmd/bench [-duration 5s] [-only REGEXP] [-json] [-strict]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	duration                         time.Duration
	only                             *regexp.Regexp
	json, strict, keep, list         bool
	repo                             string
	backendBin, frontendBin, fakeBin string
	// soak, when set, runs the mixed soak for this long instead of the
	// scenarios.
	soak time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var only string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time of each scenario (plus a warm-up of a fifth of it)")
	fs.StringVar(&only, "only", "", "run only the scenarios whose name matches this regexp (see -list)")
	fs.BoolVar(&cfg.json, "json", false, "print the report as JSON instead of Markdown")
	fs.BoolVar(&cfg.strict, "strict", false, "exit 1 when a target is missed or a scenario cannot run")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (binaries, data, server logs)")
	fs.StringVar(&cfg.repo, "repo", "", "repository root (default: found above the working directory)")
	fs.StringVar(&cfg.backendBin, "backend-bin", "", "use this backend binary instead of building one")
	fs.StringVar(&cfg.frontendBin, "frontend-bin", "", "use this frontend binary instead of building one")
	fs.StringVar(&cfg.fakeBin, "fake-bin", "", "use this fake-openrouter binary instead of building one")
	fs.BoolVar(&cfg.list, "list", false, "list the scenario names and exit")
	fs.DurationVar(&cfg.soak, "soak", 0, "run the mixed soak for this long (e.g. 10m) instead of the scenarios: backend RSS and 5xx")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	re, err := regexp.Compile(only)
	if err != nil {
		return cfg, fmt.Errorf("-only: %w", err)
	}
	cfg.only = re
	if cfg.duration < 100*time.Millisecond {
		return cfg, fmt.Errorf("-duration %s is too short to measure anything", cfg.duration)
	}
	return cfg, nil
}

func main() {
	if floorProxyRequested() { // the bench started itself as the floor proxy
		if err := serveFloorProxy(); err != nil {
			fmt.Fprintln(os.Stderr, "floor proxy:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	if cfg.list {
		for _, name := range scenarioNames() {
			fmt.Println(name)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, cfg, os.Stdout, os.Stderr))
}

// run benchmarks and prints the report; the exit code is 2 when the
// harness could not start the system, 1 when -strict and a target was
// missed, 0 otherwise.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	b, err := newBench(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	defer b.close()
	if cfg.soak > 0 {
		return runSoak(ctx, b, cfg.soak, stdout, cfg.strict)
	}
	rep := report{Started: time.Now().UTC(), Cores: runtime.NumCPU(), Duration: cfg.duration, LoadBefore: loadAverage()}
	rep.Rows = b.runAll(ctx)
	rep.LoadAfter = loadAverage()
	if cfg.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeMarkdown(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench: write report:", err)
		return 2
	}
	if cfg.strict && rep.failed() {
		return 1
	}
	return 0
}
