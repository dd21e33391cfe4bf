package load

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicksPerSecond is USER_HZ, the unit of utime and stime in
// /proc/PID/stat. It is 100 on every Linux architecture Go supports (the
// kernel ABI fixes it), so no cgo sysconf call is needed.
const clockTicksPerSecond = 100

// RSS returns a process's resident set size in bytes (VmRSS of
// /proc/PID/status).
func RSS(pid int) (int64, error) {
	return statusField(pid, "VmRSS:")
}

// statusField reads a "kB" field of /proc/PID/status, in bytes.
func statusField(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, field) {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, field))
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("pid %d: unexpected %s line %q", pid, field, line)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("pid %d: parse %s: %w", pid, field, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("pid %d: no %s in /proc status (kernel thread or exited?)", pid, field)
}

// CPUTime returns the CPU time a process has used so far, user plus system
// (utime + stime of /proc/PID/stat). The difference of two readings is the
// CPU a piece of work cost the process.
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces, so
	// count fields from the last ')'.
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, fmt.Errorf("pid %d: malformed stat %q", pid, data)
	}
	fields := strings.Fields(string(data[end+1:]))
	// After ')': state(3) ppid(4) ... utime(14) stime(15), so utime is
	// fields[11] and stime fields[12].
	if len(fields) < 13 {
		return 0, fmt.Errorf("pid %d: short stat %q", pid, data)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("pid %d: parse stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

// RSSSampler polls a process's RSS and keeps the peak, for the duration of
// a scenario. Sampling misses spikes shorter than its interval, so Stop
// also consults the kernel's high-water mark when ResetPeak succeeded.
type RSSSampler struct {
	pid      int
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	peak     int64
	samples  int
	hwmReset bool
	lastErr  error
}

// SampleRSS starts sampling pid's RSS every interval (default 10ms) until
// Stop. It first resets the kernel's peak-RSS counter (VmHWM) when allowed,
// so the high-water mark covers exactly this scenario.
func SampleRSS(pid int, interval time.Duration) *RSSSampler {
	if interval <= 0 {
		interval = 10 * time.Millisecond
	}
	s := &RSSSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	s.hwmReset = ResetPeak(pid) == nil
	s.sample()
	go s.loop(interval)
	return s
}

func (s *RSSSampler) loop(interval time.Duration) {
	defer close(s.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
			s.sample()
		}
	}
}

func (s *RSSSampler) sample() {
	rss, err := RSS(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = err
		return
	}
	s.samples++
	s.peak = max(s.peak, rss)
}

// Stop ends sampling and returns the peak RSS in bytes; an error only when
// not a single sample could be read.
func (s *RSSSampler) Stop() (int64, error) {
	close(s.stop)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hwmReset {
		if hwm, err := statusField(s.pid, "VmHWM:"); err == nil {
			s.peak = max(s.peak, hwm)
		}
	}
	if s.samples == 0 {
		return 0, fmt.Errorf("no RSS sample of pid %d: %w", s.pid, s.lastErr)
	}
	return s.peak, nil
}

// ResetPeak resets a process's VmHWM to its current RSS (writing 5 to
// /proc/PID/clear_refs; needs to own the process).
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
