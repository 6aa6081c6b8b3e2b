package handlers

import (
	"context"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// After a burst of load the heap the burst needed is garbage, but nothing
// gives it back: no GC runs once requests stop, and the runtime's
// background scavenger returns freed pages to the OS only a little at a
// time. An operator then sees the process at its peak RSS for minutes
// and cannot tell a leak from a quiet server. So once the server has been
// busy and then sees no new request for about a second, it collects and
// returns the freed memory at once (debug.FreeOSMemory), a single time
// per burst. Doing it only when idle keeps the forced GC away from
// requests' latency.

// idleTick is how often the idle-memory watcher looks at the request
// count: a server counts as idle after one tick with no new request.
const idleTick = time.Second

// watchIdleMemory returns freed memory to the OS after each burst of
// requests, until ctx ends.
func (s *Server) watchIdleMemory(ctx context.Context) {
	t := time.NewTicker(idleTick)
	defer t.Stop()
	idleReleaser{requests: s.requests.Load, release: s.releaseMemory, tick: t.C}.run(ctx)
}

// releaseMemory collects garbage and returns all freed memory to the OS,
// and logs what it gave back. It runs once per burst, so the cost of
// measuring is not worth saving.
func (s *Server) releaseMemory() {
	before := heldHeapBytes()
	start := time.Now()
	debug.FreeOSMemory()
	took := time.Since(start)
	s.log.Debug("returned freed memory to the OS after a burst of requests",
		"duration_ms", float64(took.Microseconds())/1000,
		"heap_held_before_mib", before>>20, "heap_held_after_mib", heldHeapBytes()>>20)
}

// heldHeapBytes is the heap memory the runtime holds from the OS (in use
// or free, but not yet returned). runtime/metrics reads it without
// stopping the world, unlike runtime.ReadMemStats.
func heldHeapBytes() uint64 {
	samples := []rtmetrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	rtmetrics.Read(samples)
	var n uint64
	for _, s := range samples {
		if s.Value.Kind() == rtmetrics.KindUint64 {
			n += s.Value.Uint64()
		}
	}
	return n
}

// idleReleaser calls release once each time the request count, having
// moved in one tick, stands still in the next: once per burst, about a
// tick after its last request. A server that has served nothing, or is
// busy without a pause, is left alone.
type idleReleaser struct {
	requests func() uint64 // requests seen so far
	release  func()
	tick     <-chan time.Time
}

// run watches until ctx ends. Requests served before it started make a
// burst too, so one served as it starts is never missed.
func (r idleReleaser) run(ctx context.Context) {
	last := r.requests()
	busy := last != 0 // the count moved since the last release
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.tick:
		}
		n := r.requests()
		switch {
		case n != last:
			busy, last = true, n
		case busy:
			busy = false
			r.release()
		}
	}
}
