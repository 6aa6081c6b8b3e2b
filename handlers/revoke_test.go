package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models"
)

// logout posts the header's logout form and checks the 303.
func (b *browser) logout() *response {
	b.t.Helper()
	r := b.postForm("/logout", url.Values{"csrf_token": {b.csrf()}})
	if r.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("POST /logout: status %d, want 303; body %s", r.StatusCode, r.body)
	}
	return r
}

// revokeEvents returns the user's twitter-revoke events, newest first.
func (h *harness) revokeEvents(u *models.User) []models.Event {
	h.t.Helper()
	evs, err := h.store.EventsByUser(context.Background(), u.ID, 100)
	if err != nil {
		h.t.Fatalf("EventsByUser: %v", err)
	}
	var out []models.Event
	for _, ev := range evs {
		if ev.Kind == models.EventRevoke {
			out = append(out, ev)
		}
	}
	return out
}

// TestLogout_RevokesAtTwitter: after logout the Twitter credential stops
// working at the provider, for both flows, and the outcome is recorded.
func TestLogout_RevokesAtTwitter(t *testing.T) {
	for _, flow := range flows {
		t.Run(string(flow), func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			closeOnCleanup(t, h)
			b := h.browser()
			b.login(flow, "1001")
			u := h.user(b.userID())
			token := u.Token.AccessToken
			if !h.provider.TokenActive(token) {
				t.Fatal("token not active at the provider after login")
			}

			b.logout()
			if got := h.user(u.ID).Token; got != nil {
				t.Fatalf("token still stored after logout: %+v", got)
			}
			eventually(t, 10*time.Second, "token still active at the provider", func() bool {
				return !h.provider.TokenActive(token)
			})
			eventually(t, 10*time.Second, "no revocation event", func() bool { return len(h.revokeEvents(u)) > 0 })
			if ev := h.revokeEvents(u)[0]; ev.Detail != "ok" || ev.Flow != string(flow) {
				t.Errorf("revocation event = %+v, want ok for %s", ev, flow)
			}
			if logs := h.logs.String(); strings.Contains(logs, token) || !strings.Contains(logs, "twitter revocation done") {
				t.Errorf("logs leak the token or lack the outcome:\n%s", logs)
			}
		})
	}
}

// TestLogout_TwitterDown: with Twitter failing or hanging, logout still
// completes at once; the revocation is retried in the background and
// recorded as failed.
func TestLogout_TwitterDown(t *testing.T) {
	tests := []struct {
		name  string
		fault devtwitter.Fault
	}{
		{"5xx", devtwitter.Fault{Status: http.StatusServiceUnavailable}},
		// (The provider notices a client that gave up only once it has
		// read the body, so the delay is short enough for its Close.)
		{"hangs", devtwitter.Fault{Delay: 3 * time.Second}},
	}
	for _, tc := range tests {
		for _, flow := range flows {
			t.Run(tc.name+"/"+string(flow), func(t *testing.T) {
				h := newHarness(t, harnessOptions{})
				closeOnCleanup(t, h)
				// Quick retries, so the test waits for milliseconds, not seconds.
				h.srv.revoker.backoff = 10 * time.Millisecond
				h.srv.revoker.attemptTimeout = 200 * time.Millisecond
				b := h.browser()
				b.login(flow, "1001")
				u := h.user(b.userID())
				token := u.Token.AccessToken
				h.provider.SetFault("/2/oauth2/revoke", tc.fault)
				h.provider.SetFault("/1.1/oauth/invalidate_token", tc.fault)
				faultsBefore := h.provider.Stats().Faults

				start := time.Now()
				r := b.logout()
				if d := time.Since(start); d > time.Second {
					t.Errorf("logout took %v with Twitter down", d)
				}
				if loc := r.Header.Get("Location"); loc != "/?notice=signed-out" {
					t.Errorf("logout redirects to %q", loc)
				}
				if h.user(u.ID).Token != nil {
					t.Error("token still stored after logout")
				}
				eventually(t, 10*time.Second, "no failed revocation event", func() bool { return len(h.revokeEvents(u)) > 0 })
				ev := h.revokeEvents(u)[0]
				if !strings.HasPrefix(ev.Detail, "failed after 3 attempts") {
					t.Errorf("revocation event detail = %q, want failed after 3 attempts", ev.Detail)
				}
				if n := h.provider.Stats().Faults - faultsBefore; n != h.srv.revoker.attempts {
					t.Errorf("provider saw %d revocation attempts, want %d", n, h.srv.revoker.attempts)
				}
				if !h.provider.TokenActive(token) {
					t.Error("token revoked although the provider was down")
				}
				if logs := h.logs.String(); strings.Contains(logs, token) || !strings.Contains(logs, "twitter revocation failed") {
					t.Errorf("logs leak the token or lack the failure:\n%s", logs)
				}
			})
		}
	}
}

// TestClose_StopsRevocations: Close waits for the revocations handed to
// the workers; a logout after Close still moves the credential to the
// outbox, where it waits, unrevoked, for the next instance.
func TestClose_StopsRevocations(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	b.login(config.OAuth2, "1001")
	u := h.user(b.userID())
	b.logout()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if evs := h.revokeEvents(u); len(evs) != 1 || evs[0].Detail != "ok" {
		t.Fatalf("after Close, revocation events = %+v, want one ok", evs)
	}
	if err := h.srv.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}

	b.login(config.OAuth2, "1001")
	token := h.user(u.ID).Token.AccessToken
	b.logout()
	time.Sleep(100 * time.Millisecond)
	if evs := h.revokeEvents(u); len(evs) != 1 {
		t.Errorf("revocation events after Close = %+v, want none new", evs)
	}
	if !h.provider.TokenActive(token) {
		t.Error("token revoked after Close")
	}
	if h.user(u.ID).Token != nil {
		t.Error("token still stored on the user after logout")
	}
	if ids, err := h.store.DueRevocations(t.Context(), h.clock.Now(), 10); err != nil || len(ids) != 1 {
		t.Errorf("outbox after Close = %v, %v; want the one pending entry", ids, err)
	}
}

// TestClose_AbandonsWhenTwitterHangs: Close returns when its context ends
// even while a revocation waits on Twitter.
func TestClose_AbandonsWhenTwitterHangs(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.srv.revoker.attemptTimeout = time.Minute
	b := h.browser()
	b.login(config.OAuth1, "1001")
	h.provider.SetFault("/1.1/oauth/invalidate_token", devtwitter.Fault{Delay: 3 * time.Second})
	b.logout()
	eventually(t, 10*time.Second, "revocation never reached the provider", func() bool { return h.provider.Stats().Faults > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := h.srv.Close(ctx); err == nil {
		t.Error("Close with a hanging revocation returned nil")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
}

// TestLogoutEverywhere_RevokesAtTwitter: "log out everywhere" revokes the
// stored credential at Twitter too.
func TestLogoutEverywhere_RevokesAtTwitter(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	closeOnCleanup(t, h)
	b := h.browser()
	b.login(config.OAuth1, "1001")
	u := h.user(b.userID())
	token := u.Token.AccessToken
	wantStatus(t, b.postForm("/sessions/end-all", url.Values{"csrf_token": {b.csrf()}}), http.StatusSeeOther)
	eventually(t, 10*time.Second, "token still active at the provider", func() bool {
		return !h.provider.TokenActive(token)
	})
}
