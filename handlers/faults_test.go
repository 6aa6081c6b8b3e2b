package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
	"example.com/twitterlogin/models/storetest"
)

// TestTwitterFaults: when Twitter fails, answers garbage or is slow, the
// user gets a clear 502/504 page, nothing is written, and the next login
// works once Twitter is back.
func TestTwitterFaults(t *testing.T) {
	tests := []struct {
		name   string
		flow   config.Flow
		path   string
		fault  devtwitter.Fault
		status int
		// atStart is true when the fault hits the login start (OAuth 1.0a
		// request token) rather than the callback.
		atStart bool
	}{
		{"oauth2 token endpoint 500", config.OAuth2, "/2/oauth2/token", devtwitter.Fault{Status: 500}, http.StatusBadGateway, false},
		{"oauth2 token endpoint slow", config.OAuth2, "/2/oauth2/token", devtwitter.Fault{Delay: 3 * time.Second}, http.StatusGatewayTimeout, false},
		{"oauth2 users/me 503", config.OAuth2, "/2/users/me", devtwitter.Fault{Status: 503}, http.StatusBadGateway, false},
		{"oauth2 users/me 429", config.OAuth2, "/2/users/me", devtwitter.Fault{Status: 429}, http.StatusServiceUnavailable, false},
		{"oauth2 users/me 401", config.OAuth2, "/2/users/me", devtwitter.Fault{Status: 401}, http.StatusBadGateway, false},
		{"oauth2 users/me slow", config.OAuth2, "/2/users/me", devtwitter.Fault{Delay: 3 * time.Second}, http.StatusGatewayTimeout, false},
		{"oauth1 request token 500", config.OAuth1, "/oauth/request_token", devtwitter.Fault{Status: 500}, http.StatusBadGateway, true},
		{"oauth1 request token slow", config.OAuth1, "/oauth/request_token", devtwitter.Fault{Delay: 3 * time.Second}, http.StatusGatewayTimeout, true},
		{"oauth1 access token 503", config.OAuth1, "/oauth/access_token", devtwitter.Fault{Status: 503}, http.StatusBadGateway, false},
		{"oauth1 verify_credentials 401", config.OAuth1, "/1.1/account/verify_credentials.json", devtwitter.Fault{Status: 401}, http.StatusBadGateway, false},
		{"oauth1 verify_credentials slow", config.OAuth1, "/1.1/account/verify_credentials.json", devtwitter.Fault{Delay: 3 * time.Second}, http.StatusGatewayTimeout, false},
	}
	h := newHarness(t, harnessOptions{twitterTimeout: "1s"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer h.provider.ClearFaults()
			b := h.browser()
			var r *response
			if tt.atStart {
				h.provider.SetFault(tt.path, tt.fault)
				r = b.get("/auth/" + string(tt.flow) + "/login")
			} else {
				cb := b.consent(b.startLogin(tt.flow), "approve", "1003")
				h.provider.SetFault(tt.path, tt.fault)
				r = b.get(cb.String())
			}
			wantPage(t, r, tt.status, "Twitter")
			if b.cookie(sessionCookie) != "" {
				t.Error("session cookie set despite the failure")
			}
			if _, err := h.store.UserByTwitterID(context.Background(), "1003"); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("user written despite the failure: %v", err)
			}
		})
	}
	t.Run("back to normal", func(t *testing.T) {
		for _, flow := range flows {
			h.browser().login(flow, "1003")
		}
	})
}

// TestTwitterUnreachable: with the provider's server gone, sign-in fails
// with 502 and the rest of the app keeps working.
func TestTwitterUnreachable(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	b.login(config.OAuth2, "1001")
	pending := h.browser()
	cb := pending.consent(pending.startLogin(config.OAuth2), "approve", "1002")
	h.provSrv.Close()

	wantPage(t, h.browser().get("/auth/oauth1/login"), http.StatusBadGateway, "Twitter could not complete the sign-in")
	wantPage(t, pending.get(cb.String()), http.StatusBadGateway, "Twitter could not complete the sign-in")
	// Signed-in users are not affected: sessions never call Twitter.
	wantStatus(t, b.post("/db", "application/json", `{"text":"still here"}`), http.StatusCreated)
}

// TestStoreDown: with MongoDB unreachable, requests that need it get 503
// (JSON or page), and the same app serves normally once it is back.
func TestStoreDown(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := embedded.Start(ctx, embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	addr := db.Addr()
	h := newHarness(t, harnessOptions{store: storetest.Open(t, db)})
	b := h.browser()
	b.login(config.OAuth2, "1001")
	wantStatus(t, b.post("/db", "application/json", `{"text":"before"}`), http.StatusCreated)
	pending := h.browser()
	cb := pending.consent(pending.startLogin(config.OAuth2), "approve", "1002")

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	msg := wantJSONError(t, b.get("/db"), http.StatusServiceUnavailable)
	if !strings.Contains(msg, "database is unavailable") {
		t.Errorf("503 message %q", msg)
	}
	wantJSONError(t, b.post("/db", "application/json", `{"text":"during"}`), http.StatusServiceUnavailable)
	wantPage(t, b.get("/"), http.StatusServiceUnavailable, "database is unavailable")
	wantPage(t, pending.get(cb.String()), http.StatusServiceUnavailable, "database is unavailable")
	if b.cookie(sessionCookie) == "" {
		t.Error("an outage signed the user out")
	}
	// Pages that need no store still work.
	wantPage(t, h.browser().get("/"), http.StatusOK, "Sign in with Twitter")

	db2, err := embedded.Start(ctx, embedded.Options{Dir: dir, Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := b.get("/db")
		if r.StatusCode == http.StatusOK {
			if !strings.Contains(r.body, "before") || strings.Contains(r.body, "during") {
				t.Errorf("after recovery GET /db = %s", r.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store back but GET /db still %s", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.browser().login(config.OAuth1, "1002")
}

// TestNoSecretsInLogs runs both flows and logout and checks that no token,
// code, verifier, state, secret or cookie reached the log.
func TestNoSecretsInLogs(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	secrets := map[string]string{
		"session secret":  testSecret,
		"consumer secret": devtwitter.DevConsumerSecret,
		"client secret":   devtwitter.DevClientSecret,
	}
	for _, flow := range flows {
		b := h.browser()
		cb := b.consent(b.startLogin(flow), "approve", "1001")
		for k, v := range cb.Query() {
			secrets[string(flow)+" callback "+k] = v[0]
		}
		secrets[string(flow)+" login cookie"] = b.cookie(loginStateCookie)
		wantStatus(t, b.get(cb.String()), http.StatusFound)
		secrets[string(flow)+" session cookie"] = b.cookie(sessionCookie)
		u := h.user(b.userID())
		secrets[string(flow)+" access token"] = u.Token.AccessToken
		secrets[string(flow)+" token secret"] = u.Token.TokenSecret
		wantStatus(t, b.post("/db", "application/json", `{"text":"private words"}`), http.StatusCreated)
		wantStatus(t, b.postForm("/logout", map[string][]string{"csrf_token": {b.csrf()}}), http.StatusSeeOther)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"msg":"login"`) || !strings.Contains(logs, `"msg":"logout"`) {
		t.Fatalf("expected login and logout events in the log:\n%s", logs)
	}
	for name, v := range secrets {
		if len(v) < 6 {
			continue // empty (no token secret in OAuth 2.0) or too short to be a secret
		}
		if strings.Contains(logs, v) {
			t.Errorf("the log contains the %s", name)
		}
	}
	if strings.Contains(logs, "private words") {
		t.Error("the log contains record text")
	}
}
