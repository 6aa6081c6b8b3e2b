package session

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

var userFixture = models.User{ID: bson.NewObjectID(), TwitterID: "1", Handle: "u", Name: "U"}

// putSession caches session key of u, expiring at expires, as a store
// read that began at now would.
func putSession(c *cache, key string, u *models.User, expires, now time.Time) {
	c.put(c.ticket(), key, &models.Session{UserID: u.ID, ExpiresAt: expires, LastSeen: now}, u, true, now)
}

// TestCacheBounds: an entry is served for the ttl from its store
// read, re-read after half of it, never past the session's expiry or the
// cap; a drop during a store read keeps the read's result out.
func TestCacheBounds(t *testing.T) {
	now := time.Now()
	c := newCache(time.Minute, 4)
	u := &userFixture
	putSession(c, "a", u, now.Add(time.Hour), now)
	putSession(c, "short", u, now.Add(time.Second), now)
	tests := []struct {
		name       string
		key        string
		at         time.Duration
		ok, reload bool
	}{
		{"young entry", "a", 29 * time.Second, true, false},
		{"entry past half its ttl", "a", 59 * time.Second, true, true},
		{"entry at its ttl", "a", time.Minute, false, false},
		{"session expired", "short", time.Second, false, false},
		{"same session id, another key", "a.other-secret", 0, false, false},
	}
	for _, tt := range tests {
		h, ok := c.get(tt.key, u.ID, now.Add(tt.at))
		if ok != tt.ok || h.reloadSession != tt.reload {
			t.Errorf("%s: ok %v reload %v, want %v %v", tt.name, ok, h.reloadSession, tt.ok, tt.reload)
		}
	}
	for _, sid := range []string{"1", "2", "3", "4", "5", "6"} {
		putSession(c, sid, u, now.Add(time.Hour), now)
	}
	if n, _ := c.counts(); n > 4 {
		t.Errorf("cache holds %d entries, max 4", n)
	}
	if _, ok := c.get("6", u.ID, now); !ok {
		t.Error("newest entry evicted")
	}

	ticket := c.ticket()
	c.dropSession("raced")
	c.put(ticket, "raced", &models.Session{UserID: u.ID, ExpiresAt: now.Add(time.Hour)}, u, true, now)
	if _, ok := c.get("raced", u.ID, now); ok {
		t.Error("a store read older than a drop put its session back")
	}
	c.dropSession("6")
	if h, ok := c.get("6", u.ID, now); !ok || h.user != nil {
		t.Errorf("dropped session: ok %v user %v, want a tombstone", ok, h.user)
	}

	off := newCache(0, 4)
	putSession(off, "a", u, now.Add(time.Hour), now)
	if _, ok := off.get("a", u.ID, now); ok {
		t.Error("disabled cache served an entry")
	}
}

// TestCacheFeedTrust: a successful poll of the change feed extends
// every entry's trust to the ttl from the poll; without polls, each entry
// is trusted for the ttl from its own store read.
func TestCacheFeedTrust(t *testing.T) {
	now := time.Now()
	c := newCache(10*time.Second, 100)
	u := &userFixture
	putSession(c, "a", u, now.Add(time.Hour), now)
	c.applyFeed(nil, true, now.Add(8*time.Second))
	if h, ok := c.get("a", u.ID, now.Add(12*time.Second)); !ok || h.reloadSession {
		t.Errorf("2s after a poll: ok %v reload %v, want a trusted hit", ok, h.reloadSession)
	}
	if _, ok := c.get("a", u.ID, now.Add(18*time.Second)); ok {
		t.Error("served a ttl after the last poll")
	}
	c.applyFeed([]models.Change{{UserID: u.ID}}, true, now.Add(20*time.Second))
	if _, ok := c.get("a", u.ID, now.Add(20*time.Second)); ok {
		t.Error("served a session of a user the feed dropped")
	}
	putSession(c, "b", u, now.Add(time.Hour), now.Add(20*time.Second))
	c.applyFeed(nil, false, now.Add(21*time.Second))
	if n, users := c.counts(); n != 0 || users != 0 {
		t.Errorf("an incomplete poll left %d sessions and %d users", n, users)
	}
}

// TestCacheEntrySize measures the memory of the cache's entries,
// the figures in cache's comment: sessions with their keys, and
// users with a realistic profile and Twitter token.
func TestCacheEntrySize(t *testing.T) {
	const n = 20_000
	now := time.Now()
	newUser := func(i int) *models.User {
		return &models.User{
			ID: bson.NewObjectID(), TwitterID: fmt.Sprint(1_000_000_000 + i), Handle: fmt.Sprintf("handle_%d", i),
			Name: fmt.Sprintf("Display Name %d", i), AvatarURL: fmt.Sprintf("https://pbs.twimg.com/profile_images/%d/abcdefgh_normal.jpg", i),
			Token: &models.ProviderToken{Flow: "oauth2", AccessToken: strings.Repeat("a", 90) + fmt.Sprint(i),
				RefreshToken: strings.Repeat("r", 90) + fmt.Sprint(i), Expiry: now.Add(time.Hour), Generation: 1},
			Roles: []string{}, CreatedAt: now, UpdatedAt: now,
		}
	}
	// fill caches n sessions of users distinct users and returns the bytes
	// the cache holds.
	fill := func(users int) float64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := newCache(time.Minute, 2*n)
		us := make([]*models.User, users)
		for i := range us {
			us[i] = newUser(i)
		}
		for i := range n {
			key := fmt.Sprintf("%024x.%s", i, strings.Repeat("s", 26))
			putSession(c, key, us[i%users], now.Add(time.Hour), now)
		}
		us = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(c)
		return float64(after.HeapAlloc) - float64(before.HeapAlloc)
	}
	perSession := fill(100) / n
	perUser := fill(n)/n - perSession
	t.Logf("about %.0f bytes per session entry, %.0f per user entry", perSession, perUser)
	if perSession > 600 || perUser > 2000 {
		t.Errorf("%.0f bytes per session and %.0f per user; cache's comment says about 290 and 670", perSession, perUser)
	}
}
