package handlers

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// Revocations reach other instances through the store's change feed
// (models/changes.go): the instance that revokes drops the session or
// user from its cache at once and publishes the change; every instance
// polls the feed every pollInterval, about fifteen _id lookups (one per
// second of its window) whatever the number of sessions, and drops what
// it reports. A cached entry is
// trusted for SESSION_CACHE_TTL from the start of the last successful
// poll (sessioncache.go), so another instance refuses a revoked session
// within about a second while the feed works, and within
// SESSION_CACHE_TTL when it does not: its entries are then re-read from
// the store.
//
// A publish that fails (the store failed between the revocation and the
// publish) does not fail the logout, which stands in the store; it is
// retried every second by [Server.WatchStore] until the store takes it,
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

// sessionRevoked is called once session sid (an ID or key) has been
// ended in the store.
func (s *Server) sessionRevoked(ctx context.Context, sid string) {
	s.revoked(ctx, models.Change{SessionID: models.SessionIDOf(sid)})
}

// userRevoked is called once user uid has been signed out everywhere,
// deleted, or lost their Twitter credential in the store.
func (s *Server) userRevoked(ctx context.Context, uid bson.ObjectID) {
	s.revoked(ctx, models.Change{UserID: uid})
}

// revoked drops ch from the cache at once and publishes it, so that every
// other instance drops it at its next poll. A failed publish is queued
// for WatchStore to retry, and logged.
func (s *Server) revoked(ctx context.Context, ch models.Change) {
	if ch.SessionID != "" {
		s.cache.dropSession(ch.SessionID)
	} else {
		s.cache.dropUser(ch.UserID)
	}
	err := s.store.PublishChange(ctx, ch, s.now())
	if err == nil {
		return
	}
	attrs := []any{"request_id", requestIDFrom(ctx), "err", err.Error()}
	if ch.SessionID == "" {
		attrs = append(attrs, "user_id", ch.UserID.Hex())
	}
	if !s.feed.queue(ch) {
		s.log.Error("revocation not published and too many queued; other instances learn of it at their next store read", attrs...)
		return
	}
	s.log.Warn("revocation not published; retrying in the background", attrs...)
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

// republish publishes the queued changes, oldest first, until one fails.
func (s *Server) republish(ctx context.Context) {
	s.feed.pendingMu.Lock()
	pending := s.feed.pending
	s.feed.pending = nil
	s.feed.pendingMu.Unlock()
	for i, ch := range pending {
		cctx, cancel := context.WithTimeout(ctx, s.storeTimeout)
		err := s.store.PublishChange(cctx, ch, s.now())
		cancel()
		if err != nil {
			s.feed.pendingMu.Lock()
			s.feed.pending = append(pending[i:], s.feed.pending...)
			s.feed.pendingMu.Unlock()
			return
		}
	}
	if len(pending) > 0 {
		s.log.Info("queued revocations published", "count", len(pending))
	}
}

// pollChanges reads the change feed once and applies it to the cache.
func (s *Server) pollChanges(ctx context.Context) error {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	start := s.now()
	ctx, cancel := context.WithTimeout(ctx, s.storeTimeout)
	defer cancel()
	b, err := s.store.ChangesSince(ctx, &s.feed.cursor, start)
	s.cacheMetrics.readN(cacheReadChanges, b.Reads)
	if err != nil {
		return err
	}
	s.cache.applyFeed(b.Changes, b.Complete, start)
	return nil
}

// followFeed polls the change feed every pollInterval until ctx ends,
// logging when it stops and starts working.
func (s *Server) followFeed(ctx context.Context) {
	t := time.NewTicker(pollInterval(s.cfg.SessionCacheTTL))
	defer t.Stop()
	for {
		err := s.pollChanges(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !s.feed.failing:
			s.feed.failing = true
			s.log.Warn("change feed unreadable; cached sessions are re-read from the store until it is back", "err", err.Error())
		case err == nil && s.feed.failing:
			s.feed.failing = false
			s.log.Info("change feed readable again")
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
func (s *Server) keepHouse(ctx context.Context) {
	t := time.NewTicker(housekeepingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.republish(ctx)
		s.flushTouches(ctx, false)
		if now := s.now(); now.Sub(s.feed.cleaned) >= changeCleanupEvery {
			s.feed.cleaned = now
			s.cleanChanges(ctx, now)
		}
	}
}

func (s *Server) cleanChanges(ctx context.Context, now time.Time) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := s.store.DeleteOldChanges(ctx, now); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("delete old changes", "err", err.Error())
	}
}
