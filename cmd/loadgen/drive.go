package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// errDone ends a worker of a drive without a duration.
var errDone = errors.New("done")

// result is what one run of a scenario measured.
type result struct {
	ops       int
	errors    int
	status503 int
	firstErr  error
	elapsed   time.Duration
	latencies []time.Duration // sorted
	cpu       time.Duration
}

// drive runs fn on conns workers until d has passed (or, with d == 0,
// until fn returns errDone), recording each call's latency. Each worker
// has its own random source, so picking users takes no lock. Calls still
// running when d ends finish normally (no deadline cuts them short) and
// are counted; throughput is over the time until the last one finished.
func drive(ctx context.Context, conns int, d time.Duration, fn func(ctx context.Context, rng *rand.Rand) error) result {
	var stop atomic.Bool
	if d > 0 {
		t := time.AfterFunc(d, func() { stop.Store(true) })
		defer t.Stop()
	}
	var (
		mu  sync.Mutex
		res result
		wg  sync.WaitGroup
	)
	cpu0 := cpuTime()
	start := time.Now()
	for range conns {
		rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		wg.Go(func() {
			var w result
			for !stop.Load() && ctx.Err() == nil {
				t0 := time.Now()
				err := fn(ctx, rng)
				if errors.Is(err, errDone) {
					break
				}
				// A call that was running when time ran out still counts:
				// its latency and any error are real.
				w.latencies = append(w.latencies, time.Since(t0))
				if err != nil {
					w.errors++
					if is503(err) {
						w.status503++
					}
					if w.firstErr == nil {
						w.firstErr = err
					}
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, w.latencies...)
			res.errors += w.errors
			res.status503 += w.status503
			if res.firstErr == nil {
				res.firstErr = w.firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.cpu = cpuTime() - cpu0
	res.ops = len(res.latencies)
	slices.Sort(res.latencies)
	return res
}

func (r result) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
