package devtwitter

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestAccessTokenLifetime: a configured short lifetime is announced in
// expires_in and enforced by users/me; a refresh gives a working token.
func TestAccessTokenLifetime(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.AccessTokenLifetime = time.Minute })
	conf := e.oauth2Config("tweet.read", "users.read", "offline.access")
	verifier := oauth2.GenerateVerifier()
	tok, err := conf.Exchange(e.ctx(), e.authorize(t, conf, verifier), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != 60 {
		t.Errorf("expires_in = %d, want 60", tok.ExpiresIn)
	}
	e.clock.Advance(61 * time.Second)
	if resp, _ := e.usersMe(t, tok.AccessToken); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("users/me after the lifetime: %d, want 401", resp.StatusCode)
	}
	fresh, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.usersMe(t, fresh.AccessToken); resp.StatusCode != http.StatusOK {
		t.Errorf("users/me with the refreshed token: %d", resp.StatusCode)
	}
	if e.p.Stats().Refreshes != 1 {
		t.Errorf("Refreshes = %d, want 1", e.p.Stats().Refreshes)
	}
	if _, err := New(Config{CallbackURLs: []string{testCallback}, AccessTokenLifetime: time.Millisecond}); err == nil {
		t.Error("New accepted a lifetime under a second")
	}
}

// TestFaultExtensions: Body, Malformed and RateLimitReset answer as set.
func TestFaultExtensions(t *testing.T) {
	e := newTestEnv(t)
	reset := time.Unix(2000000000, 0)
	e.p.SetFault("/2/users/me", Fault{Status: 429, RateLimitReset: reset})
	resp, _ := e.usersMe(t, "whatever")
	if resp.StatusCode != 429 || resp.Header.Get("x-rate-limit-reset") != "2000000000" || resp.Header.Get("x-rate-limit-remaining") != "0" {
		t.Errorf("429: status %d, reset %q", resp.StatusCode, resp.Header.Get("x-rate-limit-reset"))
	}
	e.p.SetFault("/2/users/me", Fault{Malformed: true})
	resp, body := e.usersMe(t, "whatever")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "{") || strings.HasSuffix(strings.TrimSpace(body), "}") {
		t.Errorf("malformed: status %d body %q", resp.StatusCode, body)
	}
	e.p.SetFault("/oauth/request_token", Fault{Body: "oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=false"})
	if _, _, err := e.oauth1Config().RequestToken(); err == nil || !strings.Contains(err.Error(), "oauth_callback_confirmed") {
		t.Errorf("RequestToken with an unconfirmed callback: %v", err)
	}
	e.p.ClearFaults()
	if _, err := parseFault("nope"); err == nil {
		t.Error("parseFault accepted an unknown mode")
	}
}
