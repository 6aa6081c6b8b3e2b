package handlers

import (
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// sessionCache remembers, for a short time, that a session is live and who
// its user is, so a signed-in request costs a JWT check and a map lookup
// instead of two store queries (on the embedded store each is a full scan).
//
// Revocation stays exact on this instance: logout, a new login and a
// cleared token drop the affected entries at once. Another instance learns
// of a change from the store's change stream where the store has one
// (MongoDB replica sets; see [Server.WatchStore]), and otherwise within
// ttl, the documented bound (SESSION_CACHE_TTL).
type sessionCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[string]cacheEntry // by session id
}

type cacheEntry struct {
	user *models.User // shared and read-only
	// userAt is when user was read from the store: a background reload
	// re-reads the session (is it still live?) every time, but the user
	// only every userReload, because on the embedded store that read scans
	// every user.
	userAt time.Time
	// until is the earlier of the session's expiry and the cache deadline.
	until time.Time
	// refreshAt is when a request should reload the entry in the
	// background, so busy sessions never all miss at once.
	refreshAt time.Time
}

// newSessionCache returns a cache holding at most max sessions for ttl
// each. A ttl of zero disables caching.
func newSessionCache(ttl time.Duration, max int) *sessionCache {
	return &sessionCache{ttl: ttl, max: max, entries: make(map[string]cacheEntry)}
}

// userReload bounds how stale a cached user (name, avatar) may be while
// its session stays busy. Revocation does not depend on it: logout and
// user deletion end the session, which every reload checks.
const userReload = time.Minute

// get returns the cached entry of session sid if it is still live, and
// whether it is old enough to be reloaded in the background. An entry is
// never served past its ttl, reloaded or not.
func (c *sessionCache) get(sid string, now time.Time) (e cacheEntry, ok, refresh bool) {
	if c.ttl <= 0 {
		return cacheEntry{}, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok = c.entries[sid]
	if !ok {
		return cacheEntry{}, false, false
	}
	if !now.Before(e.until) {
		delete(c.entries, sid)
		return cacheEntry{}, false, false
	}
	return e, true, !now.Before(e.refreshAt)
}

// put caches a live session loaded from the store, with its user as read
// at userAt.
func (c *sessionCache) put(sid string, u *models.User, userAt, sessionExpiry, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	until := now.Add(c.ttl)
	if sessionExpiry.Before(until) {
		until = sessionExpiry
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[sid] = cacheEntry{user: u, userAt: userAt, until: until, refreshAt: now.Add(c.ttl / 2)}
}

// evict drops expired entries, and if that frees too little, about half
// of the rest (map order is random). Called with mu held.
func (c *sessionCache) evict(now time.Time) {
	for sid, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, sid)
		}
	}
	for sid := range c.entries {
		if len(c.entries) < c.max/2 {
			break
		}
		delete(c.entries, sid)
	}
}

// dropSession forgets one session (logout).
func (c *sessionCache) dropSession(sid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, sid)
}

// dropUser forgets every session of a user whose document changed (a new
// login's profile, a cleared token, a deletion).
func (c *sessionCache) dropUser(id bson.ObjectID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for sid, e := range c.entries {
		if e.user.ID == id {
			delete(c.entries, sid)
		}
	}
}

// clear forgets everything (the change stream was interrupted, so changes
// may have been missed).
func (c *sessionCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}
