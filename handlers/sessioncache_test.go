package handlers

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models"
)

var userFixture = models.User{ID: bson.NewObjectID(), TwitterID: "1", Handle: "u", Name: "U"}

func devtwitterUser(id, handle, name string) devtwitter.User {
	return devtwitter.User{ID: id, ScreenName: handle, Name: name}
}

// secondInstance starts another app instance on the same store, secret,
// public URL and clock, as a load balancer's second backend would be.
func (h *harness) secondInstance() *httptest.Server {
	h.t.Helper()
	_, ts := h.secondServer(h.store)
	return ts
}

// secondServer is secondInstance on store (the harness's, or another
// connection to its database), returning the Server too.
func (h *harness) secondServer(store *models.Store) (*Server, *httptest.Server) {
	h.t.Helper()
	srv, err := New(Options{Config: h.cfg, Store: store, Now: h.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		h.t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	h.t.Cleanup(ts.Close)
	return srv, ts
}

// getWithCookie sends GET target to base with only the session cookie.
func getWithCookie(t *testing.T, base, target, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+target, nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLogoutAcrossInstances: logout on one instance refuses the cookie
// there at once, and on another instance within SESSION_CACHE_TTL (this
// store has no change streams to say so sooner). With the cache off, at
// once everywhere.
func TestLogoutAcrossInstances(t *testing.T) {
	tests := []struct {
		ttl      string
		staleOnB bool // B still accepts the cookie right after logout on A
	}{
		{"5s", true},
		{"0s", false},
	}
	for _, tt := range tests {
		t.Run("SESSION_CACHE_TTL="+tt.ttl, func(t *testing.T) {
			h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_CACHE_TTL": tt.ttl}})
			b := h.browser()
			b.login("oauth2", "1001")
			cookie := b.cookie(sessionCookie)
			other := h.secondInstance()

			if got := getWithCookie(t, other.URL, "/me", cookie); got != http.StatusOK {
				t.Fatalf("instance B before logout: %d, want 200", got)
			}
			wantStatus(t, b.get("/me"), http.StatusOK)
			wantStatus(t, b.postForm("/logout", url.Values{"csrf_token": {b.csrf()}}), http.StatusSeeOther)

			if got := getWithCookie(t, h.app.URL, "/me", cookie); got != http.StatusUnauthorized {
				t.Errorf("instance A right after its logout: %d, want 401", got)
			}
			want := http.StatusUnauthorized
			if tt.staleOnB {
				want = http.StatusOK
			}
			if got := getWithCookie(t, other.URL, "/me", cookie); got != want {
				t.Errorf("instance B right after logout on A: %d, want %d", got, want)
			}
			h.clock.Advance(h.cfg.SessionCacheTTL)
			if got := getWithCookie(t, other.URL, "/me", cookie); got != http.StatusUnauthorized {
				t.Errorf("instance B after SESSION_CACHE_TTL: %d, want 401", got)
			}
		})
	}
}

// TestProfileChangeReachesOtherSessions: a new login's profile shows in
// the user's other signed-in browsers at once on the same instance.
func TestProfileChangeReachesOtherSessions(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	laptop, phone := h.browser(), h.browser()
	laptop.login("oauth2", "1002")
	phone.login("oauth1", "1002")
	wantPage(t, laptop.get("/"), http.StatusOK, "Grace Hopper")

	h.provider.SetUser(devtwitterUser("1002", "rear_admiral", "Rear Admiral Hopper"))
	phone.login("oauth2", "1002")
	wantPage(t, laptop.get("/"), http.StatusOK, "Rear Admiral Hopper", "@rear_admiral")

	var me userJSON
	r := laptop.get("/me")
	wantStatus(t, r, http.StatusOK)
	if err := json.Unmarshal([]byte(r.body), &me); err != nil || me.Handle != "rear_admiral" || me.TwitterID != "1002" || me.ID != laptop.userID().Hex() {
		t.Errorf("GET /me = %s", r.body)
	}
}

// putSession caches session key of u, expiring at expires, as a store
// read that began at now would.
func putSession(c *sessionCache, key string, u *models.User, expires, now time.Time) {
	c.put(c.ticket(), key, &models.Session{UserID: u.ID, ExpiresAt: expires, LastSeen: now}, u, true, now)
}

// TestSessionCacheBounds: an entry is served for the ttl from its store
// read, re-read after half of it, never past the session's expiry or the
// cap; a drop during a store read keeps the read's result out.
func TestSessionCacheBounds(t *testing.T) {
	now := time.Now()
	c := newSessionCache(time.Minute, 4)
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

	off := newSessionCache(0, 4)
	putSession(off, "a", u, now.Add(time.Hour), now)
	if _, ok := off.get("a", u.ID, now); ok {
		t.Error("disabled cache served an entry")
	}
}

// TestSessionCacheFeedTrust: a successful poll of the change feed extends
// every entry's trust to the ttl from the poll; without polls, each entry
// is trusted for the ttl from its own store read.
func TestSessionCacheFeedTrust(t *testing.T) {
	now := time.Now()
	c := newSessionCache(10*time.Second, 100)
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

// TestSessionCacheEntrySize measures the memory of the cache's entries,
// the figures in sessionCache's comment: sessions with their keys, and
// users with a realistic profile and Twitter token.
func TestSessionCacheEntrySize(t *testing.T) {
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
		c := newSessionCache(time.Minute, 2*n)
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
		t.Errorf("%.0f bytes per session and %.0f per user; sessionCache's comment says about 290 and 670", perSession, perUser)
	}
}
