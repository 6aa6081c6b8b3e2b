package handlers

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// runReleaser runs an idleReleaser whose request counter reads counts[0]
// when it starts and counts[i] at tick i, sends one tick per remaining
// count, and returns the ticks after which it released memory. The tick
// channel is unbuffered, so each send waits until the previous tick is
// handled; cancelling and waiting for run to return lets the last one
// finish.
func runReleaser(t *testing.T, counts []uint64) []int {
	t.Helper()
	read := 0 // the number of counter reads; touched only by run
	var released []int
	tick := make(chan time.Time)
	r := idleReleaser{
		requests: func() uint64 {
			n := counts[read]
			read++
			return n
		},
		release: func() { released = append(released, read-1) },
		tick:    tick,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(ctx)
	}()
	for range counts[1:] {
		tick <- time.Now()
	}
	cancel()
	<-done
	return released
}

// TestIdleReleaser: memory is released once a tick passes without a new
// request after at least one tick with some, and then not again until the
// next burst.
func TestIdleReleaser(t *testing.T) {
	tests := []struct {
		name string
		// counts is the request counter when the watcher starts, then at
		// each tick.
		counts []uint64
		want   []int // the ticks after which memory is released
	}{
		{"released once after busy then idle", []uint64{0, 5, 5, 5, 5}, []int{2}},
		{"released after a burst spanning ticks ends", []uint64{0, 1, 2, 3, 3, 3}, []int{4}},
		{"not released while requests keep coming", []uint64{0, 1, 2, 3, 4, 5}, nil},
		{"not released when nothing was ever served", []uint64{0, 0, 0, 0}, nil},
		{"requests before the watcher started make a burst", []uint64{7, 7, 7, 7}, []int{1}},
		{"released again after a second burst", []uint64{0, 3, 3, 3, 9, 9, 9}, []int{2, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runReleaser(t, tc.counts); !slices.Equal(got, tc.want) {
				t.Errorf("released after ticks %v, want %v", got, tc.want)
			}
		})
	}
}

// TestIdleReleaser_StopsWithContext: run returns once ctx ends, without
// waiting for a tick and without releasing.
func TestIdleReleaser_StopsWithContext(t *testing.T) {
	released := false
	r := idleReleaser{
		requests: func() uint64 { return 0 },
		release:  func() { released = true },
		tick:     make(chan time.Time), // never ticks
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(ctx)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("run still running 10s after ctx ended")
	}
	if released {
		t.Error("released memory on the way out")
	}
}

// TestHandler_CountsRequests: every request served through Handler moves
// the counter the idle-memory watcher reads, those that cross-origin
// protection refuses included.
func TestHandler_CountsRequests(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	before := h.srv.requests.Load()
	wantStatus(t, b.get("/healthz"), http.StatusOK)
	wantStatus(t, b.post("/db", "application/json", "{}", "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	if got, want := h.srv.requests.Load()-before, uint64(2); got != want {
		t.Errorf("requests counted = %d, want %d", got, want)
	}
}

// TestWatchStore_ReleasesMemoryAfterBurst: WatchStore runs the idle-memory
// watcher, which logs the release about a second after the last request.
func TestWatchStore_ReleasesMemoryAfterBurst(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { h.srv.WatchStore(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	wantStatus(t, h.browser().get("/healthz"), http.StatusOK)
	eventually(t, 10*time.Second, "no release logged after the request", func() bool {
		return strings.Contains(h.logs.String(), "returned freed memory to the OS")
	})
}
