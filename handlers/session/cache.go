package session

import (
	"crypto/subtle"
	"math/rand/v2"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// cache remembers which sessions are live and who their users are,
// so a signed-in request costs a JWT check and a map lookup instead of
// store reads, whatever the number of sessions in use.
//
// Revocation: this instance drops what it revoked at once
// ([Manager.SessionRevoked], [Manager.UserRevoked]), and every instance
// drops what the change feed reports at its next poll, a second or less
// later (feed.go). An entry is trusted for ttl
// (SESSION_CACHE_TTL) from the later of its own store read and the start
// of the last successful poll: while the feed works, entries are never
// re-read; when polls fail or stop, each entry is re-read from the store
// after ttl/2 (in the background) and not served after ttl, so the bound
// holds with the feed down.
//
// Memory: at most max session entries (tombstones of ended sessions
// included) and one user entry per user with a cached session, shared by
// that user's sessions. TestCacheEntrySize measured about 290
// bytes per session entry (its key included) and 670 per user entry
// (profile and Twitter token included), so the default cap of 100,000
// sessions holds about 29 MB, plus at most 67 MB of users (one session
// each). A full cache drops its expired entries and then random ones,
// down to half.
type cache struct {
	ttl time.Duration
	max int

	mu       sync.Mutex
	sessions map[string]cachedSession // by session ID (models.SessionIDOf)
	users    map[bson.ObjectID]*cachedUser
	// covered is the start of the last successful poll of the change
	// feed: every revocation published before it has been applied.
	covered time.Time
	// gen counts drops; drops holds the latest, so that a store read
	// that started before a drop does not put back what it dropped.
	gen   uint64
	drops [dropLogSize]dropRecord
}

// cachedSession is a live session, or a tombstone (user nil) of one that
// ended, kept until it would have expired.
type cachedSession struct {
	key      string      // the token's session key, as the store checked it
	user     *cachedUser // nil: the session has ended
	expires  time.Time   // never served past it
	verified time.Time   // when a store read that found it live began
	lastSeen time.Time   // as stored, or as queued to be stored
}

// cachedUser is one user's profile, shared by their cached sessions.
type cachedUser struct {
	user      *models.User // read-only once cached
	reloadAt  time.Time
	reloading bool
	sessions  []string // IDs of the user's cached live sessions
}

type dropRecord struct {
	sessionID string
	userID    bson.ObjectID
	all       bool
}

const (
	// maxCachedSessions bounds the cache (see cache for its memory).
	maxCachedSessions = 100_000
	// dropLogSize is how many drops a store read that races them can
	// tell apart; after more, it is not cached.
	dropLogSize = 64
	// userReload is how often a user in use is re-read for their profile
	// (name, avatar), plus up to a fifth more so reloads spread out.
	// Revocation never waits for it.
	userReload = 5 * time.Minute
	// userRetry spaces reloads of a user after a failed one.
	userRetry = 30 * time.Second
)

// newCache returns a cache of at most max sessions whose entries
// are trusted for ttl. A ttl of zero disables caching.
func newCache(ttl time.Duration, max int) *cache {
	return &cache{
		ttl: ttl, max: max,
		sessions: make(map[string]cachedSession),
		users:    make(map[bson.ObjectID]*cachedUser),
	}
}

// cacheHit is what a request learns from the cache, and what it should
// start in the background.
type cacheHit struct {
	user          *models.User // nil: the session has ended
	reloadSession bool         // the entry is past half its trust: re-read it
	reloadUser    bool         // the profile is due a re-read
	touch         bool         // last_seen is due a write
}

// get returns what the cache knows of session key of user uid at now; ok
// is false when the store must be asked.
func (c *cache) get(key string, uid bson.ObjectID, now time.Time) (h cacheHit, ok bool) {
	if c.ttl <= 0 {
		return h, false
	}
	id := models.SessionIDOf(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.sessions[id]
	switch {
	case !found || subtle.ConstantTimeCompare([]byte(e.key), []byte(key)) != 1:
		return h, false
	case !now.Before(e.expires):
		c.removeLocked(id, e)
		return h, false
	case e.user == nil:
		return h, true
	case e.user.user.ID != uid:
		return h, false
	}
	from := e.verified
	if c.covered.After(from) {
		from = c.covered
	}
	if !now.Before(from.Add(c.ttl)) {
		return h, false
	}
	h.user = e.user.user
	h.reloadSession = !now.Before(from.Add(c.ttl / 2))
	if !e.user.reloading && !now.Before(e.user.reloadAt) {
		e.user.reloading, h.reloadUser = true, true
	}
	if now.Sub(e.lastSeen) >= models.LastSeenGranularity {
		e.lastSeen, h.touch = now, true
		c.sessions[id] = e
	}
	return h, true
}

// ticket returns the drop count, to pass to put or setUser after a store
// read that began now.
func (c *cache) ticket() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// user returns the cached profile of uid, or nil.
func (c *cache) user(uid bson.ObjectID) *models.User {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cu := c.users[uid]; cu != nil {
		return cu.user
	}
	return nil
}

// put caches session sess, presented as key and read live by a store read
// that began at now, after ticket t, with user u (fresh: just read). It
// reports whether the session's last_seen is due a write. Nothing is
// cached if the session or user was dropped since t.
func (c *cache) put(t uint64, key string, sess *models.Session, u *models.User, fresh bool, now time.Time) (touch bool) {
	id := models.SessionIDOf(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	lastSeen := sess.LastSeen
	old, had := c.sessions[id]
	if had && old.key == key && old.lastSeen.After(lastSeen) {
		lastSeen = old.lastSeen
	}
	if now.Sub(lastSeen) >= models.LastSeenGranularity {
		lastSeen, touch = now, true
	}
	if c.ttl <= 0 || c.droppedSinceLocked(t, id, sess.UserID) {
		return touch
	}
	if had {
		c.removeLocked(id, old)
	}
	if len(c.sessions) >= c.max {
		c.evictLocked(now)
	}
	cu := c.users[sess.UserID]
	if cu == nil {
		cu = &cachedUser{user: u, reloadAt: nextUserReload(now)}
		c.users[sess.UserID] = cu
	} else if fresh {
		cu.user, cu.reloadAt = u, nextUserReload(now)
	}
	cu.sessions = append(cu.sessions, id)
	c.sessions[id] = cachedSession{key: key, user: cu, expires: sess.ExpiresAt, verified: now, lastSeen: lastSeen}
	return touch
}

// ended remembers that session key has ended (the store does not have
// it), until the given time, so that replays of its cookie cost nothing.
func (c *cache) ended(key string, until, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	id := models.SessionIDOf(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, had := c.sessions[id]; had {
		c.removeLocked(id, old)
	}
	if len(c.sessions) >= c.max {
		c.evictLocked(now)
	}
	c.sessions[id] = cachedSession{key: key, expires: until}
}

// setUser replaces the cached profile of u.ID with u, read after ticket t.
func (c *cache) setUser(t uint64, u *models.User, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cu := c.users[u.ID]
	if cu == nil {
		return
	}
	cu.reloading = false
	if !c.droppedSinceLocked(t, "", u.ID) {
		cu.user, cu.reloadAt = u, nextUserReload(now)
	}
}

// userReloadFailed keeps the cached profile of uid and retries later.
func (c *cache) userReloadFailed(uid bson.ObjectID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cu := c.users[uid]; cu != nil {
		cu.reloading, cu.reloadAt = false, now.Add(userRetry)
	}
}

func nextUserReload(now time.Time) time.Time {
	return now.Add(userReload + rand.N(userReload/5))
}

// dropSession forgets that session id (an ID or key) is live: it ended.
func (c *cache) dropSession(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropSessionLocked(models.SessionIDOf(id))
}

// dropUser forgets user id and every cached session of theirs (they
// signed out everywhere, their token was cleared, or their profile
// changed): the sessions are read from the store again when next used.
func (c *cache) dropUser(id bson.ObjectID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropUserLocked(id)
}

// clear forgets everything (changes may have been missed).
func (c *cache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

// applyFeed applies one successful poll of the change feed that began at
// start; complete is false when earlier changes may have been missed.
func (c *cache) applyFeed(changes []models.Change, complete bool, start time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !complete {
		c.clearLocked()
	}
	for _, ch := range changes {
		if ch.SessionID != "" {
			c.dropSessionLocked(ch.SessionID)
		} else {
			c.dropUserLocked(ch.UserID)
		}
	}
	c.covered = start // polls run one at a time
}

// counts returns how many sessions (tombstones included) and users the
// cache holds.
func (c *cache) counts() (sessions, users int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions), len(c.users)
}

// dropSessionLocked turns session id's entry into a tombstone: a session
// never comes back once ended, so replays of its cookie need no store read.
func (c *cache) dropSessionLocked(id string) {
	c.noteDropLocked(dropRecord{sessionID: id})
	e, ok := c.sessions[id]
	if !ok || e.user == nil {
		return
	}
	c.unlinkLocked(id, e.user)
	e.user = nil
	c.sessions[id] = e
}

func (c *cache) dropUserLocked(id bson.ObjectID) {
	c.noteDropLocked(dropRecord{userID: id})
	cu := c.users[id]
	if cu == nil {
		return
	}
	for _, sid := range cu.sessions {
		delete(c.sessions, sid)
	}
	delete(c.users, id)
}

func (c *cache) clearLocked() {
	c.noteDropLocked(dropRecord{all: true})
	clear(c.sessions)
	clear(c.users)
}

func (c *cache) noteDropLocked(r dropRecord) {
	c.gen++
	c.drops[c.gen%dropLogSize] = r
}

// droppedSinceLocked reports whether session id or user uid may have
// been dropped after ticket t.
func (c *cache) droppedSinceLocked(t uint64, id string, uid bson.ObjectID) bool {
	if c.gen-t > dropLogSize {
		return true
	}
	for g := t + 1; g <= c.gen; g++ {
		r := c.drops[g%dropLogSize]
		if r.all || (id != "" && r.sessionID == id) || r.userID == uid {
			return true
		}
	}
	return false
}

// removeLocked deletes session id's entry e.
func (c *cache) removeLocked(id string, e cachedSession) {
	delete(c.sessions, id)
	if e.user != nil {
		c.unlinkLocked(id, e.user)
	}
}

// unlinkLocked removes session id from its user, and the user once they
// have no cached session left.
func (c *cache) unlinkLocked(id string, cu *cachedUser) {
	for i, sid := range cu.sessions {
		if sid == id {
			last := len(cu.sessions) - 1
			cu.sessions[i] = cu.sessions[last]
			cu.sessions = cu.sessions[:last]
			break
		}
	}
	if len(cu.sessions) == 0 && c.users[cu.user.ID] == cu {
		delete(c.users, cu.user.ID)
	}
}

// evictLocked drops expired entries, and if that frees too little, random
// ones (map order is random) down to half the cap: amortised, a constant
// cost per put.
func (c *cache) evictLocked(now time.Time) {
	for id, e := range c.sessions {
		if !now.Before(e.expires) {
			c.removeLocked(id, e)
		}
	}
	for id, e := range c.sessions {
		if len(c.sessions) < c.max/2 {
			break
		}
		c.removeLocked(id, e)
	}
}
