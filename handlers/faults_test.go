package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models/embedded"
	"example.com/twitterlogin/models/storetest"
)

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
