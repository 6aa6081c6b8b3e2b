package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// resetPeakRSS sets the process's peak RSS (VmHWM) back to its current
// RSS, so the next peak is the next phase's. It reports false where
// /proc/self/clear_refs is missing or not writable; the peak is then the
// process's since it started.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS is the process's peak resident set size in bytes since the last
// resetPeakRSS (VmHWM), or since it started where /proc is not there.
func peakRSS() int64 {
	if n, ok := procStatus("VmHWM"); ok {
		return n
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

// currentRSS is the process's resident set size in bytes now, or -1 where
// /proc is not there.
func currentRSS() int64 {
	if n, ok := procStatus("VmRSS"); ok {
		return n
	}
	return -1
}

// procStatus reads a "Name:   123 kB" field of /proc/self/status in bytes.
func procStatus(field string) (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}
