package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models"
)

// offlineHarness is a harness whose OAuth 2.0 logins ask for offline.access.
func offlineHarness(t *testing.T) *harness {
	t.Helper()
	return newHarness(t, harnessOptions{env: map[string]string{"TWITTER_OFFLINE_ACCESS": "true"}})
}

// getTwitterMe calls GET /twitter/me with client and the session cookie.
func getTwitterMe(client *http.Client, base, cookie string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/twitter/me", nil)
	if err != nil {
		return 0, "", err
	}
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// loggedInstance is another app instance on the same store, provider,
// config and clock, as in a fleet, logging into the harness's log.
func (h *harness) loggedInstance(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := New(Options{Config: h.cfg, Store: h.store, Now: h.clock.Now, StoreTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)).With("instance", 2)})
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(srv.Handler())
	t.Cleanup(app.Close)
	return app
}

// TestTwitterMe_RefreshOnce: after the access token expires, 50 concurrent
// requests of one user, spread over two instances, cause exactly one
// refresh at Twitter, and all of them succeed.
func TestTwitterMe_RefreshOnce(t *testing.T) {
	h := offlineHarness(t)
	b := h.browser()
	b.login(config.OAuth2, "1001")
	stored := h.user(b.userID()).Token
	if stored.RefreshToken == "" || stored.Expiry.IsZero() {
		t.Fatalf("with offline.access the login keeps a refresh token and an expiry; got refresh %t, expiry %v", stored.RefreshToken != "", stored.Expiry)
	}
	r := b.get("/twitter/me")
	wantStatus(t, r, http.StatusOK)
	var me twitterMe
	if err := json.Unmarshal([]byte(r.body), &me); err != nil || me.ID != "1001" || me.Handle != "ada" {
		t.Fatalf("GET /twitter/me = %s (%v)", r.body, err)
	}

	second := h.loggedInstance(t)
	cookie := b.cookie(sessionCookie)
	for round := 1; round <= 2; round++ {
		h.clock.Advance(2*time.Hour + time.Minute) // past the access token's expiry
		before := h.provider.Stats().Refreshes
		var wg sync.WaitGroup
		errs := make(chan string, 50)
		for i := range 50 {
			base := h.app.URL
			if i%2 == 1 {
				base = second.URL
			}
			wg.Go(func() {
				status, body, err := getTwitterMe(b.client, base, cookie)
				if err != nil || status != http.StatusOK || !strings.Contains(body, `"id":"1001"`) {
					errs <- body + " " + http.StatusText(status)
				}
			})
		}
		wg.Wait()
		close(errs)
		failed := false
		for e := range errs {
			failed = true
			t.Errorf("round %d: a request failed: %s", round, e)
		}
		if failed {
			for line := range strings.SplitSeq(h.logs.String(), "\n") {
				if strings.Contains(line, "ended") || strings.Contains(line, "refresh") {
					t.Log(line)
				}
			}
			t.FailNow()
		}
		if got := h.provider.Stats().Refreshes - before; got != 1 {
			t.Errorf("round %d: %d refreshes at Twitter, want exactly 1", round, got)
		}
	}
	after := h.user(b.userID()).Token
	if after.AccessToken == stored.AccessToken || after.RefreshToken == stored.RefreshToken {
		t.Errorf("stored token not rotated cleanly: %+v", after)
	}
	if !h.provider.TokenActive(after.AccessToken) {
		t.Error("the stored access token is not active at Twitter")
	}
}

// TestTwitterMe_RefreshRefused: when Twitter refuses the refresh token, the
// login ends cleanly: 401 asking to sign in again, the cookie cleared, the
// session and the stored token gone; signing in again works.
func TestTwitterMe_RefreshRefused(t *testing.T) {
	h := offlineHarness(t)
	b := h.browser()
	b.login(config.OAuth2, "1002")
	uid := b.userID()
	oldCookie := b.cookie(sessionCookie)
	revoke(t, h, h.user(uid).Token.RefreshToken)
	h.clock.Advance(2*time.Hour + time.Minute)

	r := b.get("/twitter/me")
	msg := wantJSONError(t, r, http.StatusUnauthorized)
	if !strings.Contains(msg, "sign in again") {
		t.Errorf("401 message %q", msg)
	}
	if b.cookie(sessionCookie) != "" {
		t.Error("session cookie not cleared")
	}
	if u := h.user(uid); u.Token != nil {
		t.Errorf("stored token kept after a refused refresh: %+v", u.Token)
	}
	// The old cookie is refused too: the session was deleted.
	status, _, err := getTwitterMe(h.browser().client, h.app.URL, oldCookie)
	if err != nil || status != http.StatusUnauthorized {
		t.Errorf("old cookie: status %d, %v; want 401", status, err)
	}
	// No error page loop: the home page offers to sign in, and it works.
	wantPage(t, b.get("/"), http.StatusOK, "Sign in with Twitter")
	b.login(config.OAuth2, "1002")
	wantStatus(t, b.get("/twitter/me"), http.StatusOK)
}

// TestTwitterMe_EndsLogin covers the other ways a stored credential dies.
func TestTwitterMe_EndsLogin(t *testing.T) {
	t.Run("expired without offline.access", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		b := h.browser()
		b.login(config.OAuth2, "1001")
		if h.user(b.userID()).Token.RefreshToken != "" {
			t.Error("a refresh token is kept without offline.access")
		}
		h.clock.Advance(2*time.Hour + time.Minute)
		wantJSONError(t, b.get("/twitter/me"), http.StatusUnauthorized)
		if b.cookie(sessionCookie) != "" {
			t.Error("session cookie not cleared")
		}
		if h.provider.Stats().Refreshes != 0 {
			t.Error("refreshed without a refresh token")
		}
	})
	t.Run("revoked at Twitter", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		b := h.browser()
		b.login(config.OAuth2, "1001")
		revoke(t, h, h.user(b.userID()).Token.AccessToken)
		sid, _ := claims(t, b.cookie(sessionCookie))["sid"].(string)
		wantJSONError(t, b.get("/twitter/me"), http.StatusUnauthorized)
		if _, err := h.store.SessionByID(context.Background(), sid, h.clock.Now()); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("session kept: %v", err)
		}
	})
	t.Run("oauth1 token", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		b := h.browser()
		b.login(config.OAuth1, "1003")
		r := b.get("/twitter/me")
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.body, `"id":"1003"`) {
			t.Errorf("GET /twitter/me = %s", r.body)
		}
	})
	t.Run("signed out", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		wantJSONError(t, h.browser().get("/twitter/me"), http.StatusUnauthorized)
	})
}

// revoke revokes token at the dev provider, as a user would at
// x.com/settings/connected_apps.
func revoke(t *testing.T, h *harness, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.provSrv.URL+"/2/oauth2/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(devtwitter.DevClientID, devtwitter.DevClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || h.provider.TokenActive(token) {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
}
