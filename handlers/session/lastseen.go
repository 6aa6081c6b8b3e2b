package session

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"example.com/twitterlogin/models"
)

// The sessions page shows when each session was last used, to within
// models.LastSeenGranularity. The cache decides when a session is due
// (at most once per granularity), and the due sessions are written
// together, one bulk write every touchFlushEvery, off the request path.

const (
	// touchFlushEvery is how long a due touch may wait for its batch.
	touchFlushEvery = 5 * time.Second
	// touchFlushTimeout bounds one batch's writes: tens of thousands of
	// updates, in commands of a few dozen each.
	touchFlushTimeout = 30 * time.Second
	// maxPendingTouches bounds a batch; touches beyond it are dropped
	// (the sessions are due again a granularity later).
	maxPendingTouches = maxCachedSessions
)

// touchBatch collects the IDs of the sessions due a last_seen write.
type touchBatch struct {
	flushMu sync.Mutex // one flush at a time

	mu       sync.Mutex
	ids      map[string]struct{}
	since    time.Time // when the oldest pending touch came
	flushing bool      // a flush is running: no need to start another
}

func newTouchBatch() *touchBatch {
	return &touchBatch{ids: make(map[string]struct{})}
}

// add queues session id at now and reports whether the batch is due.
func (b *touchBatch) add(id string, now time.Time) (due bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queueLocked(id, now)
	return !b.flushing && now.Sub(b.since) >= touchFlushEvery
}

func (b *touchBatch) queueLocked(id string, now time.Time) {
	if len(b.ids) == 0 {
		b.since = now
	}
	if len(b.ids) < maxPendingTouches {
		b.ids[id] = struct{}{}
	}
}

// take returns the pending IDs if the batch is due at now (or force); the
// caller must then call done.
func (b *touchBatch) take(now time.Time, force bool) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ids) == 0 || (!force && now.Sub(b.since) < touchFlushEvery) {
		return nil
	}
	ids := slices.Collect(maps.Keys(b.ids))
	clear(b.ids)
	b.flushing = true
	return ids
}

// done ends a flush, queueing again the IDs it failed to write.
func (b *touchBatch) done(failed []string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushing = false
	for _, id := range failed {
		b.queueLocked(id, now)
	}
}

// touch queues a last_seen write for session sid, used at now, and
// flushes the batch in the background when it is due.
func (m *Manager) touch(sid string, now time.Time) {
	if m.touches.add(models.SessionIDOf(sid), now) {
		go m.flushTouches(context.Background(), false)
	}
}

// FlushLastSeen writes every pending last_seen touch now, after any
// flush already running: at shutdown, so none is lost, and in tests.
func (m *Manager) FlushLastSeen(ctx context.Context) {
	m.flushTouches(ctx, true)
}

// flushTouches writes the pending touches in one bulk write if they are
// due, or whatever is pending if force (then after any running flush). A
// failed write is logged and its touches wait for the next flush.
func (m *Manager) flushTouches(ctx context.Context, force bool) {
	if force {
		m.touches.flushMu.Lock()
	} else if !m.touches.flushMu.TryLock() {
		return
	}
	defer m.touches.flushMu.Unlock()
	now := m.now()
	ids := m.touches.take(now, force)
	if ids == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, touchFlushTimeout)
	defer cancel()
	err := m.store.TouchSessions(ctx, ids, now)
	if err == nil {
		m.touches.done(nil, now)
		return
	}
	m.touches.done(ids, now)
	if !errors.Is(err, context.Canceled) {
		m.log.Warn("touch sessions; retrying with the next batch", "sessions", len(ids), "err", err.Error())
	}
}
