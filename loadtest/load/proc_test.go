package load

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestCPUTimeAgreesWithGetrusage(t *testing.T) {
	pid := os.Getpid()
	before, err := CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Burn about 100ms of CPU (more wall time on a busy machine).
	sum := sha256.Sum256(nil)
	for range 300_000 {
		sum = sha256.Sum256(sum[:])
	}
	after, err := CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		t.Fatal(err)
	}
	rusage := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	if after <= before {
		t.Errorf("CPU time did not grow with work: %v then %v", before, after)
	}
	// /proc counts in 10ms ticks, getrusage more finely.
	if diff := rusage - after; diff < -20*time.Millisecond || diff > 50*time.Millisecond {
		t.Errorf("CPUTime = %v, getrusage says %v", after, rusage)
	}
}

// TestMain lets the test binary double as the process whose memory is
// watched: with LOAD_TEST_ALLOCATOR set it allocates on request.
func TestMain(m *testing.M) {
	if os.Getenv("LOAD_TEST_ALLOCATOR") != "" {
		allocateOnRequest()
		return
	}
	os.Exit(m.Run())
}

const allocation = 64 << 20

// allocateOnRequest says "ready", then on a line from stdin allocates and
// touches 64 MiB, says "allocated", and exits at the next line.
func allocateOnRequest() {
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	in.Scan()
	block := make([]byte, allocation)
	for i := 0; i < len(block); i += 4096 {
		block[i] = 1 // touch every page so it is resident
	}
	fmt.Println("allocated")
	in.Scan()
	runtime.KeepAlive(block)
}

func TestRSSSamplerSeesAnotherProcessPeak(t *testing.T) {
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "LOAD_TEST_ALLOCATOR=1")
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	defer stdin.Close()
	out := bufio.NewScanner(stdout)
	expect := func(line string) {
		if !out.Scan() || out.Text() != line {
			t.Fatalf("child said %q, want %q", out.Text(), line)
		}
	}
	expect("ready")
	base, err := RSS(child.Process.Pid)
	if err != nil || base <= 0 {
		t.Fatalf("RSS = %d, %v", base, err)
	}

	sampler := SampleRSS(child.Process.Pid, 5*time.Millisecond)
	fmt.Fprintln(stdin, "allocate")
	expect("allocated")
	peak, err := sampler.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if peak < base+allocation*9/10 {
		t.Errorf("peak RSS %d MiB, want at least %d MiB (before) + 64 MiB", peak>>20, base>>20)
	}
}

func TestProcFiguresOfAMissingProcess(t *testing.T) {
	const noSuchPID = 1 << 30 // above pid_max
	if _, err := RSS(noSuchPID); err == nil {
		t.Error("RSS of a missing process: no error")
	}
	if _, err := CPUTime(noSuchPID); err == nil {
		t.Error("CPUTime of a missing process: no error")
	}
	if _, err := SampleRSS(noSuchPID, time.Millisecond).Stop(); err == nil {
		t.Error("sampling a missing process: no error")
	}
}
