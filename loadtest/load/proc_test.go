package load

import (
	"crypto/sha256"
	"os"
	"testing"
	"time"
)

func TestCPUTimeGrowsWithWork(t *testing.T) {
	pid := os.Getpid()
	before, err := CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Burn about 200ms of CPU.
	sum := sha256.Sum256(nil)
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
		sum = sha256.Sum256(sum[:])
	}
	after, err := CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if used := after - before; used < 100*time.Millisecond || used > 2*time.Second {
		t.Errorf("200ms of hashing cost %v of CPU time", used)
	}
}

func TestRSSSamplerSeesAnAllocationPeak(t *testing.T) {
	pid := os.Getpid()
	base, err := RSS(pid)
	if err != nil || base <= 0 {
		t.Fatalf("RSS = %d, %v", base, err)
	}
	sampler := SampleRSS(pid, 5*time.Millisecond)
	const size = 64 << 20
	block := make([]byte, size)
	for i := 0; i < len(block); i += 4096 {
		block[i] = 1 // touch every page so it is resident
	}
	time.Sleep(30 * time.Millisecond)
	block = nil
	peak, err := sampler.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if peak < base+size*9/10 {
		t.Errorf("peak RSS %d MiB, want at least %d MiB (base) + 64 MiB", peak>>20, base>>20)
	}
	_ = block
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
