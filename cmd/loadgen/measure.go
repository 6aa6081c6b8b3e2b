package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// Scenario names, as the table, the CSV and the chart show them.
const (
	scJWTOnly = "floor: JWT-only"
	scFindOne = "floor: FindOne by _id"
	scBareDB  = "floor: bare GET /db"
	scMe      = "GET /me"
	scIndex   = "GET /"
	scDBList  = "GET /db"
	scDBPost  = "POST /db"
	scLogin   = "OAuth 2.0 login"
)

// scenario is one kind of request, made as a random signed-in user.
type scenario struct {
	name string
	// floorReads is a floor's store method calls (reads) per request, by
	// construction: floors bypass the app, so its store-call metrics do
	// not see them (its command counter does). -1: not a floor.
	floorReads float64
	fn         func(ctx context.Context, rng *rand.Rand) error
}

// scenarios lists what is measured, reads before writes: the writes
// leave more data behind, which would slow the reads measured after them.
func (r *rig) scenarios(p *picker) []scenario {
	as := func(method, base, body string) func(ctx context.Context, rng *rand.Rand) error {
		return func(ctx context.Context, rng *rand.Rand) error {
			_, u := p.pick(rng)
			return r.expect(ctx, method, base, u.cookie, body)
		}
	}
	return []scenario{
		{scJWTOnly, 0, as(http.MethodGet, r.floorURL+"/jwt-only", "")},
		{scFindOne, 1, func(ctx context.Context, rng *rand.Rand) error {
			_, u := p.pick(rng)
			return r.findOne(ctx, u.id)
		}},
		{scBareDB, 1, func(ctx context.Context, rng *rand.Rand) error {
			_, u := p.pick(rng)
			return r.expect(ctx, http.MethodGet, r.floorURL+"/bare-db?owner="+u.id.Hex(), "", "")
		}},
		{scMe, -1, as(http.MethodGet, r.appURL+"/me", "")},
		{scIndex, -1, as(http.MethodGet, r.appURL+"/", "")},
		{scDBList, -1, as(http.MethodGet, r.appURL+"/db", "")},
		{scDBPost, -1, func(ctx context.Context, rng *rand.Rand) error {
			_, u := p.pick(rng)
			return r.expect(ctx, http.MethodPost, r.appURL+"/db", u.cookie, recordBody(u, rng.IntN(100)))
		}},
		// Last, as it leaves the most writes behind: a signed-in user signs
		// in again, the whole round trip, with the upsert of an existing
		// user, a new session and a sign-in event each time.
		{scLogin, -1, func(ctx context.Context, rng *rand.Rand) error {
			_, u := p.pick(rng)
			_, err := r.login(ctx, u.twitterID)
			return err
		}},
	}
}

// row is one scenario measured at one size.
type row struct {
	users, signedIn int
	scenario        string
	floor           bool
	res             result
	store           storeUse
	distinct        int // distinct users the scenario made requests as
	// Per size, the same in each of its rows.
	peakRSS, rssAfter int64
	peakSinceStart    bool // the peak could not be reset for this size
}

func (w row) readsPerReq() float64     { return perReq(w.store.reads, w.res.ops) }
func (w row) writesPerReq() float64    { return perReq(w.store.writes, w.res.ops) }
func (w row) otherPerReq() float64     { return perReq(w.store.other, w.res.ops) }
func (w row) cmdReadsPerReq() float64  { return perReq(w.store.cmdReads, w.res.ops) }
func (w row) cmdWritesPerReq() float64 { return perReq(w.store.cmdWrites, w.res.ops) }

// cacheReadsPerSec is the session cache's store reads per second.
func (w row) cacheReadsPerSec() float64 {
	if w.res.elapsed <= 0 {
		return 0
	}
	return w.store.cacheReads / w.res.elapsed.Seconds()
}

func perReq(n float64, ops int) float64 {
	if ops == 0 {
		return 0
	}
	return n / float64(ops)
}

// measure prepares a store of n users and runs every scenario on it.
func measure(ctx context.Context, o options, n int, out io.Writer) ([]row, error) {
	peakReset := resetPeakRSS()
	r, err := newRig(ctx, o)
	if r != nil {
		defer r.close()
	}
	if err != nil {
		return nil, err
	}
	k := o.signedIn(n)
	users, err := r.prepare(ctx, o, n, k, out)
	if err != nil {
		return nil, err
	}
	p := newPicker(users)
	var rows []row
	for _, sc := range r.scenarios(p) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		w, err := r.runScenario(ctx, o, p, sc)
		if err != nil {
			return nil, err
		}
		w.users, w.signedIn = n, k
		rows = append(rows, w)
	}
	peak := peakRSS()
	// No runtime.GC or debug.FreeOSMemory: the point is whether memory
	// goes back by itself once the load stops.
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(o.settle):
	}
	after := currentRSS()
	for i := range rows {
		rows[i].peakRSS, rows[i].rssAfter, rows[i].peakSinceStart = peak, after, !peakReset
	}
	return rows, nil
}

// runScenario runs an unmeasured warm-up (the table is about the steady
// state: warm caches and pools, not the first second), then the
// measurement, between two readings of the app's metrics.
func (r *rig) runScenario(ctx context.Context, o options, p *picker, sc scenario) (row, error) {
	drive(ctx, o.conns, o.duration/5, sc.fn)
	p.reset()
	before, err := r.snapshot(ctx)
	if err != nil {
		return row{}, err
	}
	res := drive(ctx, o.conns, o.duration, sc.fn)
	after, err := r.snapshot(ctx)
	if err != nil {
		return row{}, err
	}
	w := row{scenario: sc.name, floor: sc.floorReads >= 0, res: res, store: after.since(before), distinct: p.distinct()}
	if w.floor {
		// The driver's commands are measured; the methods are known.
		w.store.reads, w.store.writes, w.store.other, w.store.otherOps = sc.floorReads*float64(res.ops), 0, 0, nil
	}
	return w, nil
}
