package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models"
)

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
