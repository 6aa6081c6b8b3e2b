package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// Load returns the signed-in session of r: its session cookie verifies
// (in full once per token on this instance, its times on every use: see
// verifiedTokens), and its session and user still exist, by the cache
// when it can vouch for them, else by the store. Every refusal wraps
// ErrNotSignedIn; any other error means the store could not say who is
// asking.
func (m *Manager) Load(r *http.Request) (*Session, error) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil, ErrNotSignedIn
	}
	uid, sid, err := m.verifyCached(ck.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSignedIn, err)
	}
	now := m.now()
	if hit, ok := m.cache.get(sid, uid, now); ok {
		if hit.user == nil {
			return nil, fmt.Errorf("%w: session ended", ErrNotSignedIn)
		}
		m.afterHit(r.Context(), uid, sid, now, hit)
		return &Session{User: hit.user, ID: sid}, nil
	}
	// The shared lookup must not fail because the one request that started
	// it went away, so it runs on a context of its own.
	ctx := context.WithoutCancel(r.Context())
	v, err, _ := m.loads.Do(sid, func() (any, error) { return m.lookup(ctx, uid, sid, now) })
	if err != nil {
		return nil, err
	}
	return &Session{User: v.(*models.User), ID: sid}, nil
}

// afterHit starts, off the request path, what a cache hit asks for, on
// a context that outlives the request's ctx. Most hits ask for nothing,
// so that context is made only when needed.
func (m *Manager) afterHit(ctx context.Context, uid bson.ObjectID, sid string, now time.Time, hit cacheHit) {
	if hit.reloadSession || hit.reloadUser {
		ctx = context.WithoutCancel(ctx)
	}
	if hit.reloadSession {
		m.loads.DoChan(sid, func() (any, error) { return m.lookup(ctx, uid, sid, now) })
	}
	if hit.reloadUser {
		go m.reloadUser(ctx, uid)
	}
	if hit.touch {
		m.touch(sid, now)
	}
}

// lookup reads session sid from the store, and its user unless the cache
// has them, checks they belong together, and caches the result.
func (m *Manager) lookup(ctx context.Context, uid bson.ObjectID, sid string, now time.Time) (*models.User, error) {
	ctx, cancel := context.WithTimeout(ctx, m.storeTimeout)
	defer cancel()
	t := m.cache.ticket()
	m.metrics.reads(cacheReadSession)
	sess, err := m.store.SessionByID(ctx, sid, now)
	if errors.Is(err, models.ErrNotFound) {
		// The token cannot outlive the session lifetime, nor the tombstone.
		m.cache.ended(sid, now.Add(m.lifetime), now)
		return nil, fmt.Errorf("%w: session ended", ErrNotSignedIn)
	} else if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if sess.UserID != uid {
		return nil, fmt.Errorf("%w: session belongs to another user", ErrNotSignedIn)
	}
	user, fresh := m.cache.user(uid), false
	if user == nil {
		m.metrics.reads(cacheReadUser)
		user, err = m.store.UserByID(ctx, uid)
		if errors.Is(err, models.ErrNotFound) {
			return nil, fmt.Errorf("%w: user deleted", ErrNotSignedIn)
		} else if err != nil {
			return nil, fmt.Errorf("load user: %w", err)
		}
		fresh = true
	}
	if m.cache.put(t, sid, sess, user, fresh, now) {
		m.touch(sid, now)
	}
	return user, nil
}

// reloadUser re-reads the profile of a cached user in the background.
// A deleted user is dropped, so their sessions are read again, and
// refused, when next used.
func (m *Manager) reloadUser(ctx context.Context, uid bson.ObjectID) {
	ctx, cancel := context.WithTimeout(ctx, m.storeTimeout)
	defer cancel()
	t := m.cache.ticket()
	m.metrics.reads(cacheReadUser)
	u, err := m.store.UserByID(ctx, uid)
	switch {
	case errors.Is(err, models.ErrNotFound):
		m.cache.dropUser(uid)
	case err != nil:
		m.cache.userReloadFailed(uid, m.now())
		m.log.Warn("reload user", "user_id", uid.Hex(), "err", err.Error())
	default:
		m.cache.setUser(t, u, m.now())
	}
}
