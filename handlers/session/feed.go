package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"example.com/twitterlogin/models"
)

// Revocations reach other instances through the store's change feed
// (models/changes.go): the instance that revokes drops the session or
// user from its cache at once and publishes the change; every instance
// polls the feed every pollInterval, about fifteen _id lookups (one per
// second of its window) whatever the number of sessions, and drops what
// it reports. A cached entry is
// trusted for SESSION_CACHE_TTL from the start of the last successful
// poll (cache.go), so another instance refuses a revoked session
// within about a second while the feed works, and within
// SESSION_CACHE_TTL when it does not: its entries are then re-read from
// the store.
//
// A publish that fails (the store failed between the revocation and the
// publish) does not fail the logout, which stands in the store; it is
// retried every second by [Manager.Watch] until the store takes it,
// so other instances see it about a second after the store is back. If
// this process dies first, another instance keeps serving a session it
// has cached until its next store read of it: when its own feed has
// failed for SESSION_CACHE_TTL, when the entry is evicted, or at the
// session's expiry.

const (
	// maxPollInterval is the poll interval with the default
	// SESSION_CACHE_TTL; see pollInterval.
	maxPollInterval = time.Second
	// housekeepingEvery spaces publish retries and due touch flushes.
	housekeepingEvery = time.Second
	// changeCleanupEvery spaces the deletions of old changes.
	changeCleanupEvery = time.Minute
	// maxPendingChanges bounds the changes waiting to be published.
	maxPendingChanges = 10_000
)

// pollInterval is a quarter of the TTL, at most a second: a poll on time
// then never lets an entry reach half its trust, where it would be
// re-read.
func pollInterval(ttl time.Duration) time.Duration {
	return max(min(ttl/4, maxPollInterval), time.Millisecond)
}

// changeFeed is this instance's place in the change feed and its queue
// of changes waiting to be published.
type changeFeed struct {
	mu      sync.Mutex // one poll at a time
	cursor  models.ChangeCursor
	failing bool
	cleaned time.Time // last deletion of old changes

	pendingMu sync.Mutex
	pending   []models.Change
}

// revoked drops ch from the cache at once and publishes it, so that every
// other instance drops it at its next poll. A failed publish is queued
// for Watch to retry, and logged.
func (m *Manager) revoked(ctx context.Context, ch models.Change) {
	if ch.SessionID != "" {
		m.cache.dropSession(ch.SessionID)
	} else {
		m.cache.dropUser(ch.UserID)
	}
	err := m.store.PublishChange(ctx, ch, m.now())
	if err == nil {
		return
	}
	attrs := []any{"request_id", m.requestID(ctx), "err", err.Error()}
	if ch.SessionID == "" {
		attrs = append(attrs, "user_id", ch.UserID.Hex())
	}
	if !m.feed.queue(ch) {
		m.log.Error("revocation not published and too many queued; other instances learn of it at their next store read", attrs...)
		return
	}
	m.log.Warn("revocation not published; retrying in the background", attrs...)
}

// queue keeps ch for a later publish; false if the queue is full.
func (f *changeFeed) queue(ch models.Change) bool {
	f.pendingMu.Lock()
	defer f.pendingMu.Unlock()
	if len(f.pending) >= maxPendingChanges {
		return false
	}
	f.pending = append(f.pending, ch)
	return true
}

// Republish publishes the revocations whose publish failed, oldest
// first, until one fails again. Watch calls it every second; tests call
// it to retry at once.
func (m *Manager) Republish(ctx context.Context) {
	m.feed.pendingMu.Lock()
	pending := m.feed.pending
	m.feed.pending = nil
	m.feed.pendingMu.Unlock()
	for i, ch := range pending {
		cctx, cancel := context.WithTimeout(ctx, m.storeTimeout)
		err := m.store.PublishChange(cctx, ch, m.now())
		cancel()
		if err != nil {
			m.feed.pendingMu.Lock()
			m.feed.pending = append(pending[i:], m.feed.pending...)
			m.feed.pendingMu.Unlock()
			return
		}
	}
	if len(pending) > 0 {
		m.log.Info("queued revocations published", "count", len(pending))
	}
}

// Poll reads the change feed once and applies it to the cache. Watch
// calls it every poll interval; tests call it to apply the feed at once.
func (m *Manager) Poll(ctx context.Context) error {
	m.feed.mu.Lock()
	defer m.feed.mu.Unlock()
	start := m.now()
	ctx, cancel := context.WithTimeout(ctx, m.storeTimeout)
	defer cancel()
	b, err := m.store.ChangesSince(ctx, &m.feed.cursor, start)
	m.metrics.readN(cacheReadChanges, b.Reads)
	if err != nil {
		return fmt.Errorf("read the change feed: %w", err)
	}
	m.cache.applyFeed(b.Changes, b.Complete, start)
	return nil
}

// followFeed polls the change feed every pollInterval until ctx ends,
// logging when it stops and starts working.
func (m *Manager) followFeed(ctx context.Context) {
	t := time.NewTicker(pollInterval(m.cacheTTL))
	defer t.Stop()
	for {
		err := m.Poll(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !m.feed.failing:
			m.feed.failing = true
			m.log.Warn("change feed unreadable; cached sessions are re-read from the store until it is back", "err", err.Error())
		case err == nil && m.feed.failing:
			m.feed.failing = false
			m.log.Info("change feed readable again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// keepHouse retries unpublished revocations, writes due last_seen
// batches and deletes old changes, until ctx ends.
func (m *Manager) keepHouse(ctx context.Context) {
	t := time.NewTicker(housekeepingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.Republish(ctx)
		m.flushTouches(ctx, false)
		if now := m.now(); now.Sub(m.feed.cleaned) >= changeCleanupEvery {
			m.feed.cleaned = now
			m.cleanChanges(ctx, now)
		}
	}
}

func (m *Manager) cleanChanges(ctx context.Context, now time.Time) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := m.store.DeleteOldChanges(ctx, now); err != nil && !errors.Is(err, context.Canceled) {
		m.log.Warn("delete old changes", "err", err.Error())
	}
}

// Watch keeps the cache in step with other instances until ctx ends; run
// it once, in a goroutine, in every instance. It polls the store's change
// feed for revocations, which bounds how long this instance may serve a
// session revoked elsewhere: about a second, or the cache TTL while the
// feed cannot be read. Where the store has change streams (MongoDB
// replica sets) it also follows them, which drops logouts, deletions and
// profile changes at once. It also writes due last_seen batches, retries
// unpublished revocations and deletes old changes. Without it the cache
// re-reads each session from the store every TTL/2 while it is in use.
func (m *Manager) Watch(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { m.keepHouse(ctx) })
	if m.cacheTTL <= 0 {
		return
	}
	wg.Go(func() { m.followFeed(ctx) })
	m.followStreams(ctx)
}

// followStreams follows the store's change streams until ctx ends, and
// returns at once on a store without them (the embedded FerretDB, a
// standalone mongod).
func (m *Manager) followStreams(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := m.store.WatchChanges(ctx,
			func() {
				// Anything may have changed while no stream was open.
				m.cache.clear()
				backoff = time.Second
			},
			func(ch models.Change) {
				if ch.SessionID != "" {
					m.cache.dropSession(ch.SessionID)
				} else {
					m.cache.dropUser(ch.UserID)
				}
			})
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, models.ErrNotSupported):
			m.log.Info("store has no change streams; other instances' revocations reach this one through the change feed",
				"poll_interval", pollInterval(m.cacheTTL).String(), "session_cache_ttl", m.cacheTTL.String())
			return
		}
		m.cache.clear()
		m.log.Warn("store change stream interrupted; retrying", "err", err.Error(), "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
