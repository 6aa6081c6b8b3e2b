package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	srv, err := New(Options{Config: h.cfg, Store: h.store, Now: h.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		h.t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	h.t.Cleanup(ts.Close)
	return ts
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

func TestSessionCacheBounds(t *testing.T) {
	now := time.Now()
	c := newSessionCache(time.Minute, 4)
	u := &userFixture
	c.put("a", u, now, now.Add(time.Hour), now)
	c.put("short", u, now, now.Add(time.Second), now)
	if _, ok, refresh := c.get("a", now.Add(29*time.Second)); !ok || refresh {
		t.Errorf("young entry: ok %v refresh %v, want true false", ok, refresh)
	}
	if _, ok, refresh := c.get("a", now.Add(59*time.Second)); !ok || !refresh {
		t.Errorf("entry past half its ttl: ok %v refresh %v, want true true", ok, refresh)
	}
	if _, ok, _ := c.get("a", now.Add(time.Minute)); ok {
		t.Error("entry served after its ttl")
	}
	if _, ok, _ := c.get("short", now.Add(time.Second)); ok {
		t.Error("entry served after its session expired")
	}
	for _, sid := range []string{"1", "2", "3", "4", "5", "6"} {
		c.put(sid, u, now, now.Add(time.Hour), now)
	}
	if n := len(c.entries); n > 4 {
		t.Errorf("cache holds %d entries, max 4", n)
	}
	if _, ok, _ := c.get("6", now); !ok {
		t.Error("newest entry evicted")
	}
	off := newSessionCache(0, 4)
	off.put("a", u, now, now.Add(time.Hour), now)
	if _, ok, _ := off.get("a", now); ok {
		t.Error("disabled cache served an entry")
	}
}
