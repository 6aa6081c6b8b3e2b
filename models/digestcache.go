package models

import (
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// digestCache keeps the records digests this instance read or wrote last,
// so that a page costs one lookup, the check that the number after the
// digest's is free, instead of two: records are only ever added, and that
// check sees every record added anywhere since the digest was cached
// (seq.go). The one change it cannot see is an account deleted and
// created again; so an entry is trusted for ttl (SESSION_CACHE_TTL) from
// the later of its own store read and the start of the last complete read
// of the change feed, whose user changes (sign-outs everywhere, deletions)
// drop it, as they drop the user's cached sessions (handlers/session). The
// instance that deletes an account drops its entry at once.
//
// Memory: entries are counted by an estimate of their size (each item's
// size, as the feed's size func gives it, plus a fixed overhead), at most
// maxCachedDigestBytes in all. A full cache drops its untrusted entries
// and then random ones, down to half.
type digestCache[T any] struct {
	ttl  time.Duration
	max  int
	size func(*T) int
	now  func() time.Time

	mu      sync.Mutex
	entries map[bson.ObjectID]cachedDigest[T]
	bytes   int
	// covered is the start of the last complete read of the change feed.
	covered time.Time
	// gen counts drops: a store read that began before one does not put
	// back what it dropped.
	gen uint64
}

type cachedDigest[T any] struct {
	d        digest[T]
	bytes    int
	verified time.Time // when the store read or write it reflects began
}

const (
	// maxCachedDigestBytes bounds the digest cache: about 50,000 users
	// with five short records each, or 3,000 with a full digest of 100.
	maxCachedDigestBytes = 32 << 20
	// digestOverhead is the estimated size of an entry without its items.
	digestOverhead = 160
)

// newDigestCache returns a cache whose entries are trusted for ttl, or
// nil (no caching) if ttl is not positive. size estimates an item's bytes.
func newDigestCache[T any](ttl time.Duration, max int, size func(*T) int) *digestCache[T] {
	if ttl <= 0 {
		return nil
	}
	return &digestCache[T]{ttl: ttl, max: max, size: size, now: time.Now, entries: map[bson.ObjectID]cachedDigest[T]{}}
}

// digestTicket is taken before a store read whose result may be put.
type digestTicket struct {
	gen uint64
	at  time.Time
}

func (c *digestCache[T]) ticket() digestTicket {
	if c == nil {
		return digestTicket{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return digestTicket{c.gen, c.now()}
}

// get returns a copy of user's trusted digest, if there is one.
func (c *digestCache[T]) get(user bson.ObjectID) (digest[T], bool) {
	if c == nil {
		return digest[T]{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[user]
	if !ok || !c.trustedLocked(e, c.now()) {
		return digest[T]{}, false
	}
	d := e.d
	d.Items = slices.Clone(d.Items)
	return d, true
}

func (c *digestCache[T]) trustedLocked(e cachedDigest[T], now time.Time) bool {
	return now.Sub(later(e.verified, c.covered)) < c.ttl
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// put caches d as user's digest, as read or written by store calls that
// began after ticket t was taken. It keeps a newer digest already cached,
// and puts nothing if anything was dropped since t. The caller must not
// change d's items afterwards.
func (c *digestCache[T]) put(t digestTicket, user bson.ObjectID, d digest[T]) {
	if c == nil {
		return
	}
	n := digestOverhead
	for i := range d.Items {
		n += c.size(&d.Items[i])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.gen != c.gen {
		return
	}
	if old, ok := c.entries[user]; ok {
		if old.d.Seq > d.Seq {
			return
		}
		c.bytes -= old.bytes
	}
	if c.bytes+n > c.max {
		c.evictLocked()
	}
	c.entries[user] = cachedDigest[T]{d: d, bytes: n, verified: t.at}
	c.bytes += n
}

// evictLocked drops the untrusted entries and then random ones (map order)
// until at most half the cap is in use.
func (c *digestCache[T]) evictLocked() {
	now := c.now()
	for u, e := range c.entries {
		if !c.trustedLocked(e, now) {
			c.removeLocked(u, e)
		}
	}
	for u, e := range c.entries {
		if c.bytes <= c.max/2 {
			return
		}
		c.removeLocked(u, e)
	}
}

func (c *digestCache[T]) removeLocked(user bson.ObjectID, e cachedDigest[T]) {
	delete(c.entries, user)
	c.bytes -= e.bytes
}

// drop forgets user's digest.
func (c *digestCache[T]) drop(user bson.ObjectID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e, ok := c.entries[user]; ok {
		c.removeLocked(user, e)
	}
}

// applyFeed applies a read of the change feed that began at start:
// complete is false when changes may have been missed.
func (c *digestCache[T]) applyFeed(changes []Change, complete bool, start time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !complete {
		c.gen++
		clear(c.entries)
		c.bytes = 0
		return
	}
	for _, ch := range changes {
		if ch.SessionID != "" {
			continue
		}
		c.gen++
		if e, ok := c.entries[ch.UserID]; ok {
			c.removeLocked(ch.UserID, e)
		}
	}
	c.covered = later(c.covered, start)
}

// clear forgets every digest.
func (c *digestCache[T]) clear() {
	c.applyFeed(nil, false, time.Time{})
}
