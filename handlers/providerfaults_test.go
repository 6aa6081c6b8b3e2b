package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
)

// consentAs answers the provider's consent non-interactively as a typed
// account (created at the provider on the fly) with a per-request fault,
// and returns the response (normally the redirect to the app's callback).
func (b *browser) consentAs(authorize *url.URL, twitterID, fault string) *response {
	b.t.Helper()
	u := *authorize
	q := u.Query()
	q.Set("auto", "approve")
	q.Set("id", twitterID)
	q.Set("handle", "user"+twitterID)
	q.Set("name", "User "+twitterID)
	if fault != "" {
		q.Set("fault", fault)
	}
	u.RawQuery = q.Encode()
	return b.get(u.String())
}

// TestProviderFaults_PerRequest runs every per-request misbehaviour of the
// dev provider through both flows: each ends on a clear page with the
// right status, and nothing is half-written.
func TestProviderFaults_PerRequest(t *testing.T) {
	const (
		invalidLink = "This sign-in link is invalid or was already used"
		twitterDown = "Twitter could not complete the sign-in"
		tooSlow     = "Twitter did not answer in time"
		rateLimited = "Twitter is limiting requests right now"
	)
	tests := []struct {
		fault  string
		status int
		text   string
	}{
		{devtwitter.FaultDeny, http.StatusOK, "Sign-in was cancelled"},
		{devtwitter.FaultSlow, http.StatusGatewayTimeout, tooSlow},
		{devtwitter.Fault5xx, http.StatusBadGateway, twitterDown},
		{devtwitter.Fault429, http.StatusServiceUnavailable, rateLimited},
		{devtwitter.FaultMalformedToken, http.StatusBadGateway, twitterDown},
		{devtwitter.FaultMalformedMe, http.StatusBadGateway, twitterDown},
		{devtwitter.FaultExpiredCode, http.StatusBadRequest, invalidLink},
		{devtwitter.FaultUsedCode, http.StatusBadRequest, invalidLink},
		{devtwitter.FaultRevokedToken, http.StatusBadGateway, twitterDown},
	}
	if len(tests) != len(devtwitter.FaultModes()) {
		t.Fatalf("%d cases for %d fault modes", len(tests), len(devtwitter.FaultModes()))
	}
	h := newHarness(t, harnessOptions{twitterTimeout: "1s"})
	n := 0
	for _, flow := range flows {
		for _, tt := range tests {
			n++
			twitterID := strconv.Itoa(5000 + n)
			t.Run(string(flow)+" "+tt.fault, func(t *testing.T) {
				b := h.browser()
				r := b.consentAs(b.startLogin(flow), twitterID, tt.fault)
				wantStatus(t, r, http.StatusFound)
				r = b.get(r.Header.Get("Location"))
				if tt.fault == devtwitter.FaultDeny {
					if loc := r.Header.Get("Location"); r.StatusCode != http.StatusFound || loc != "/?notice=cancelled" {
						t.Fatalf("callback: %d to %q, want 302 to /?notice=cancelled", r.StatusCode, loc)
					}
					r = b.get("/?notice=cancelled")
				}
				wantPage(t, r, tt.status, tt.text)
				if tt.fault == devtwitter.Fault429 {
					if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 60 {
						t.Errorf("Retry-After %q, want seconds until the rate-limit window resets", r.Header.Get("Retry-After"))
					}
				}
				wantNothingWritten(t, h, b, twitterID)
			})
		}
	}
	t.Run("other logins unaffected", func(t *testing.T) {
		for _, flow := range flows {
			h.browser().login(flow, "1003")
		}
	})
}

// TestProviderFaults_Injected: when Twitter fails, answers garbage or is
// slow (a failure injected per path with Provider.SetFault), the user gets
// a clear 502/503/504 page, nothing is written, and the next login works
// once Twitter is back.
func TestProviderFaults_Injected(t *testing.T) {
	tests := []struct {
		name    string
		flow    config.Flow
		path    string
		fault   devtwitter.Fault
		atStart bool
		status  int
		text    string
	}{
		{"oauth_callback_confirmed=false", config.OAuth1, "/oauth/request_token",
			devtwitter.Fault{Body: "oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=false"}, true,
			http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"users/me 429 with reset", config.OAuth2, "/2/users/me",
			devtwitter.Fault{Status: 429, RateLimitReset: time.Now().Add(7 * time.Minute)}, false,
			http.StatusServiceUnavailable, "Twitter is limiting requests right now"},
		{"verify_credentials 429", config.OAuth1, "/1.1/account/verify_credentials.json",
			devtwitter.Fault{Status: 429}, false,
			http.StatusServiceUnavailable, "Twitter is limiting requests right now"},
		{"token endpoint malformed JSON", config.OAuth2, "/2/oauth2/token",
			devtwitter.Fault{Malformed: true}, false,
			http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"users/me malformed JSON", config.OAuth2, "/2/users/me",
			devtwitter.Fault{Malformed: true}, false,
			http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"token endpoint 502 with its own body", config.OAuth2, "/2/oauth2/token",
			devtwitter.Fault{Status: 502, Body: "<html>bad gateway</html>"}, false,
			http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"oauth2 token endpoint 500", config.OAuth2, "/2/oauth2/token", devtwitter.Fault{Status: 500}, false, http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"oauth2 token endpoint slow", config.OAuth2, "/2/oauth2/token", devtwitter.Fault{Delay: 3 * time.Second}, false, http.StatusGatewayTimeout, "Twitter did not answer in time"},
		{"oauth2 users/me 503", config.OAuth2, "/2/users/me", devtwitter.Fault{Status: 503}, false, http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"oauth2 users/me 429", config.OAuth2, "/2/users/me", devtwitter.Fault{Status: 429}, false, http.StatusServiceUnavailable, "Twitter is limiting requests right now"},
		{"oauth2 users/me 401", config.OAuth2, "/2/users/me", devtwitter.Fault{Status: 401}, false, http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"oauth2 users/me slow", config.OAuth2, "/2/users/me", devtwitter.Fault{Delay: 3 * time.Second}, false, http.StatusGatewayTimeout, "Twitter did not answer in time"},
		{"oauth1 request token 500", config.OAuth1, "/oauth/request_token", devtwitter.Fault{Status: 500}, true, http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"oauth1 request token slow", config.OAuth1, "/oauth/request_token", devtwitter.Fault{Delay: 3 * time.Second}, true, http.StatusGatewayTimeout, "Twitter did not answer in time"},
		{"oauth1 access token 503", config.OAuth1, "/oauth/access_token", devtwitter.Fault{Status: 503}, false, http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"oauth1 verify_credentials 401", config.OAuth1, "/1.1/account/verify_credentials.json", devtwitter.Fault{Status: 401}, false, http.StatusBadGateway, "Twitter could not complete the sign-in"},
		{"oauth1 verify_credentials slow", config.OAuth1, "/1.1/account/verify_credentials.json", devtwitter.Fault{Delay: 3 * time.Second}, false, http.StatusGatewayTimeout, "Twitter did not answer in time"},
	}
	h := newHarness(t, harnessOptions{twitterTimeout: "1s"})
	for i, tt := range tests {
		twitterID := strconv.Itoa(6000 + i)
		t.Run(tt.name, func(t *testing.T) {
			defer h.provider.ClearFaults()
			b := h.browser()
			var r *response
			if tt.atStart {
				h.provider.SetFault(tt.path, tt.fault)
				r = b.get("/auth/" + string(tt.flow) + "/login")
			} else {
				cb := b.consentAs(b.startLogin(tt.flow), twitterID, "")
				h.provider.SetFault(tt.path, tt.fault)
				r = b.get(cb.Header.Get("Location"))
			}
			wantPage(t, r, tt.status, tt.text)
			if tt.fault.Status == 429 {
				ra, _ := strconv.Atoi(r.Header.Get("Retry-After"))
				if !tt.fault.RateLimitReset.IsZero() && (ra < 6*60 || ra > 7*60) {
					t.Errorf("Retry-After %q, want about 7 minutes (x-rate-limit-reset)", r.Header.Get("Retry-After"))
				}
			}
			wantNothingWritten(t, h, b, twitterID)
		})
	}
	t.Run("back to normal", func(t *testing.T) {
		for _, flow := range flows {
			h.browser().login(flow, "1003")
		}
	})
}

// TestDevProviderConsent_TypedAccounts: on the interactive consent page a
// browser can pick a listed account or type a new one (id, handle, name,
// avatar), so two browsers sign in as two different users.
func TestDevProviderConsent_TypedAccounts(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	consentID := regexp.MustCompile(`name="consent" value="([^"]+)"`)

	answer := func(b *browser, form url.Values) {
		t.Helper()
		page := b.get(b.startLogin(config.OAuth2).String())
		wantStatus(t, page, http.StatusOK)
		for _, field := range []string{`name="id"`, `name="handle"`, `name="name"`, `name="avatar"`, `name="fault"`} {
			if !strings.Contains(page.body, field) {
				t.Fatalf("consent page has no %s field", field)
			}
		}
		m := consentID.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("no consent id on the page:\n%s", page.body)
		}
		form.Set("consent", m[1])
		form.Set("action", "approve")
		r := b.postForm(h.provSrv.URL+"/_dev/consent", form)
		wantStatus(t, r, http.StatusFound)
		r = b.get(r.Header.Get("Location"))
		if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/" {
			t.Fatalf("callback: %s", r)
		}
	}

	typed, picked := h.browser(), h.browser()
	answer(typed, url.Values{"user": {"1001"}, "id": {"7001"}, "handle": {"@newbie"}, "name": {"New Bie"}, "avatar": {"https://example.com/newbie.png"}})
	answer(picked, url.Values{"user": {"1002"}})

	u := h.user(typed.userID())
	if u.TwitterID != "7001" || u.Handle != "newbie" || u.Name != "New Bie" || u.AvatarURL != "https://example.com/newbie.png" {
		t.Errorf("typed account stored as %+v", u)
	}
	if got := h.user(picked.userID()).TwitterID; got != "1002" {
		t.Errorf("picked account is %s, want 1002", got)
	}
	// The typed account is now listed for the next sign-in.
	if page := h.browser().get(h.provSrv.URL + "/"); !strings.Contains(page.body, "@newbie") {
		t.Errorf("provider home does not list the typed account:\n%s", page.body)
	}
	t.Run("invalid typed account", func(t *testing.T) {
		b := h.browser()
		r := b.consentAs(b.startLogin(config.OAuth2), "not-a-number", "")
		wantPage(t, r, http.StatusBadRequest, "Invalid account")
	})
	t.Run("unknown fault mode", func(t *testing.T) {
		b := h.browser()
		r := b.consentAs(b.startLogin(config.OAuth2), "7002", "explode")
		wantPage(t, r, http.StatusBadRequest, "unknown fault mode")
		wantNothingWritten(t, h, b, "7002")
	})
}
