package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models"
)

// prepare fills the store to n users, of whom k sign in through the real
// login, gives each signed-in user its records, and says how long each
// phase took.
func (r *rig) prepare(ctx context.Context, o options, n, k int, out io.Writer) ([]user, error) {
	t0 := time.Now()
	// Users beyond those signed in are imported directly: signing 100,000
	// users in one by one would take hours and measure only the login.
	if err := r.importUsers(ctx, n-k); err != nil {
		return nil, err
	}
	t1 := time.Now()
	users, err := r.signInAll(ctx, o, k)
	if err != nil {
		return nil, err
	}
	t2 := time.Now()
	if err := r.seedRecords(ctx, o, users); err != nil {
		return nil, err
	}
	t3 := time.Now()
	if err := r.awaitQuietWrites(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%d users: imported %d in %s; %d logins in %s (%.0f/s); %d records in %s (%.0f/s); writes quiet after %s\n",
		n, n-k, t1.Sub(t0).Round(time.Millisecond),
		k, t2.Sub(t1).Round(time.Millisecond), float64(k)/t2.Sub(t1).Seconds(),
		k*recordsPerUser, t3.Sub(t2).Round(time.Millisecond), float64(k*recordsPerUser)/t3.Sub(t2).Seconds(),
		time.Since(t3).Round(100*time.Millisecond))
	return users, nil
}

// awaitQuietWrites waits until the store has had no write command for a
// second (at most a minute): what the preparation started in the
// background (last_seen batches, say) belongs to it, not to the first
// scenario measured after it.
func (r *rig) awaitQuietWrites(ctx context.Context) error {
	const quiet, limit, poll = time.Second, time.Minute, 100 * time.Millisecond
	writes := func() (float64, error) {
		snap, err := r.snapshot(ctx)
		return snap.commands["write"], err
	}
	last, err := writes()
	if err != nil {
		return err
	}
	start := time.Now()
	for lastChange := start; time.Since(lastChange) < quiet && time.Since(start) < limit; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
		n, err := writes()
		if err != nil {
			return err
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
	}
	return nil
}

// importUsers adds n users straight into the store.
func (r *rig) importUsers(ctx context.Context, n int) error {
	const batch = 1000
	now := time.Now()
	for start := 0; start < n; start += batch {
		var users []models.User
		for i := start; i < min(n, start+batch); i++ {
			id := strconv.Itoa(importedBase + i)
			uid, err := models.UserIDFor(id)
			if err != nil {
				return err
			}
			users = append(users, models.User{
				ID: uid, TwitterID: id, Handle: "seed" + id, Name: "Seeded " + id, Roles: []string{},
				CreatedAt: now, UpdatedAt: now,
			})
		}
		if err := r.store.ImportUsers(ctx, users); err != nil {
			return err
		}
	}
	return nil
}

// signInAll signs k users in through the real login, a few at a time: a
// large embedded store cannot take 64 concurrent first logins within the
// store timeout, and this step only prepares the measurement. The first
// user who cannot sign in (after three tries) stops it.
func (r *rig) signInAll(ctx context.Context, o options, k int) ([]user, error) {
	for i := range k {
		id := twitterIDOf(i)
		r.provider.SetUser(devtwitter.User{ID: id, ScreenName: "load" + id, Name: "Load User " + id})
	}
	users := make([]user, k)
	var next atomic.Int64
	err := prepPhase(ctx, min(o.conns, 8), func(ctx context.Context) error {
		i := int(next.Add(1)) - 1
		if i >= k {
			return errDone
		}
		var err error
		users[i], err = r.signInAs(ctx, twitterIDOf(i))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("logins: %w", err)
	}
	return users, nil
}

// seedRecords gives every user recordsPerUser records through POST /db,
// on up to 16 connections: the store writes one at a time, so more would
// only queue them past the store timeout. Consecutive posts are for
// different users, as in real traffic. A post is tried three times; the
// first that fails all three stops it.
func (r *rig) seedRecords(ctx context.Context, o options, users []user) error {
	total := len(users) * recordsPerUser
	var next atomic.Int64
	err := prepPhase(ctx, min(o.conns, 16), func(ctx context.Context) error {
		j := int(next.Add(1)) - 1
		if j >= total {
			return errDone
		}
		u, i := users[j%len(users)], j/len(users)
		var err error
		for range 3 {
			if err = r.expect(ctx, http.MethodPost, r.appURL+"/db", u.cookie, recordBody(u, i)); err == nil {
				break
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	return nil
}

// prepPhase runs step on conns workers until it returns errDone, and
// stops every worker at the first error: preparing goes on only while
// the store keeps up, rather than for minutes of timeouts.
func prepPhase(ctx context.Context, conns int, step func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	drive(ctx, conns, 0, func(ctx context.Context, _ *rand.Rand) error {
		err := step(ctx)
		if err != nil && !errors.Is(err, errDone) {
			cancel(err)
			return errDone
		}
		return err
	})
	return context.Cause(ctx)
}

// picker picks a random signed-in user and remembers which it picked.
type picker struct {
	users   []user
	touched []atomic.Bool
}

func newPicker(users []user) *picker {
	return &picker{users: users, touched: make([]atomic.Bool, len(users))}
}

// pick returns the index and user of a random signed-in user.
func (p *picker) pick(rng *rand.Rand) (int, user) {
	i := rng.IntN(len(p.users))
	if !p.touched[i].Load() { // a read keeps the shared line clean
		p.touched[i].Store(true)
	}
	return i, p.users[i]
}

// reset forgets the users picked so far.
func (p *picker) reset() {
	for i := range p.touched {
		p.touched[i].Store(false)
	}
}

// distinct counts the users picked since the last reset.
func (p *picker) distinct() int {
	n := 0
	for i := range p.touched {
		if p.touched[i].Load() {
			n++
		}
	}
	return n
}
