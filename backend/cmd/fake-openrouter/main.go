// Command fake-openrouter serves the fake OpenRouter (package
// fakeopenrouter) on its own port, so the backend can be run and tested end
// to end without the real provider. It is a SIMULATOR: every answer is made
// up. Point the backend at it with OPENROUTER_BASE_URL=http://ADDR/api/v1
// and OPENROUTER_API_KEY=<FAKE_OPENROUTER_KEY>.
//
// Environment:
//
//	FAKE_OPENROUTER_ADDR         listen address (default 127.0.0.1:8090)
//	FAKE_OPENROUTER_KEY          the accepted API key (default fake-key)
//	FAKE_OPENROUTER_CHUNK_DELAY  pause between streamed chunks (Go duration, default 50ms)
//	FAKE_OPENROUTER_VIDEO_POLLS  polls until a video job completes (default 2)
//	FAKE_OPENROUTER_VIDEO_AFTER  or: complete video jobs after this long (Go duration)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/duckgate/duckgate/backend/internal/fakeopenrouter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fake-openrouter:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usage is what -h/--help prints.
const usage = `usage: fake-openrouter

A SIMULATOR of OpenRouter for trying duckgate's AI pages and testing them:
canned answers, streamed chunk by chunk, generated images and a sample
video. Every answer is made up. Point the backend at it with
OPENROUTER_BASE_URL=http://ADDR/api/v1 and OPENROUTER_API_KEY=<the key>.

Environment:
  FAKE_OPENROUTER_ADDR         listen address (default 127.0.0.1:8090)
  FAKE_OPENROUTER_KEY          the accepted API key (default fake-key)
  FAKE_OPENROUTER_CHUNK_DELAY  pause between streamed chunks (Go duration, default 50ms)
  FAKE_OPENROUTER_VIDEO_POLLS  polls until a video job completes (default 2)
  FAKE_OPENROUTER_VIDEO_AFTER  or: complete video jobs after this long (Go duration)

A request whose body holds [fake-fail:MODE] fails that way (401, 402, 429,
500, malformed, hang, error-in-200, error-mid-stream, video-failed).`

// errUsage marks a mistake on the command line (exit status 2).
var errUsage = errors.New("usage")

// config is the binary's configuration, read from the environment.
type config struct {
	addr       string
	key        string
	chunkDelay time.Duration
	videoPolls int
	videoAfter time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{addr: "127.0.0.1:8090", key: "fake-key", chunkDelay: 50 * time.Millisecond, videoPolls: 2}
	if v := getenv("FAKE_OPENROUTER_ADDR"); v != "" {
		cfg.addr = v
	}
	if v := getenv("FAKE_OPENROUTER_KEY"); v != "" {
		cfg.key = v
	}
	var err error
	if v := getenv("FAKE_OPENROUTER_CHUNK_DELAY"); v != "" {
		if cfg.chunkDelay, err = time.ParseDuration(v); err != nil {
			return cfg, fmt.Errorf("FAKE_OPENROUTER_CHUNK_DELAY: %w", err)
		}
	}
	if v := getenv("FAKE_OPENROUTER_VIDEO_POLLS"); v != "" {
		if cfg.videoPolls, err = strconv.Atoi(v); err != nil || cfg.videoPolls < 1 {
			return cfg, fmt.Errorf("FAKE_OPENROUTER_VIDEO_POLLS: want a positive integer, got %q", v)
		}
	}
	if v := getenv("FAKE_OPENROUTER_VIDEO_AFTER"); v != "" {
		if cfg.videoAfter, err = time.ParseDuration(v); err != nil {
			return cfg, fmt.Errorf("FAKE_OPENROUTER_VIDEO_AFTER: %w", err)
		}
	}
	return cfg, nil
}

// run serves until ctx is done, then shuts down gracefully. It takes no
// arguments: -h/--help prints the usage instead of serving.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
			_, err := fmt.Fprintln(stdout, usage)
			return err
		}
		return fmt.Errorf("%w: unexpected argument %q (the environment configures the simulator; see --help)", errUsage, args[0])
	}
	logger := slog.New(slog.NewJSONHandler(stdout, nil))
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	fake := fakeopenrouter.New(fakeopenrouter.Options{APIKey: cfg.key, ChunkDelay: cfg.chunkDelay,
		VideoPolls: cfg.videoPolls, VideoAfter: cfg.videoAfter, Logger: logger})
	listener, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	server := &http.Server{Handler: fake.Handler(), ReadHeaderTimeout: 10 * time.Second}
	logger.Warn("SIMULATOR of OpenRouter: this is fake-openrouter, every AI answer is made up",
		"addr", listener.Addr().String(), "base_url", "http://"+listener.Addr().String()+"/api/v1")

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	fake.Close() // ends hanging requests and streams
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
