package handlers

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
)

var activityRowRE = regexp.MustCompile(`<td class="event">([^<(]+)`)

// activityKinds lists the events on the activity page, newest first.
func (b *browser) activityKinds() []string {
	b.t.Helper()
	r := b.get("/activity")
	if r.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /activity: status %d; body %s", r.StatusCode, r.body)
	}
	var out []string
	for _, m := range activityRowRE.FindAllStringSubmatch(r.body, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// TestActivity: sign-in, a service token, logout (with its revocation)
// and a second sign-in show on the user's activity page, newest first;
// another user sees none of them.
func TestActivity(t *testing.T) {
	h := newTokenHarness(t, nil)
	closeOnCleanup(t, h)
	b := h.browser()
	b.login(config.OAuth2, "1001")
	u := h.user(b.userID())
	b.serviceToken("image-service", "/image")
	b.logout()
	eventually(t, 10*time.Second, "no revocation event", func() bool { return len(h.revokeEvents(u)) > 0 })
	b.login(config.OAuth1, "1001")

	got := b.activityKinds()
	want := []string{"Signed in", "Twitter access revoked", "Session ended", "Signed out", "Service token issued", "Signed in"}
	if !slices.Equal(got, want) {
		t.Fatalf("activity = %q, want %q", got, want)
	}
	page := b.get("/activity")
	wantPage(t, page, http.StatusOK, "(OAuth 1.0a)", "(OAuth 2.0)", "Go · 127.0.0.0/24", "image-service /image")
	if cc := page.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("activity Cache-Control %q, want no-store", cc)
	}
	if !strings.Contains(b.get("/").body, `href="/activity"`) {
		t.Error("the signed-in home page does not link to /activity")
	}

	// Nothing secret went into the events.
	evs, err := h.store.EventsByUser(t.Context(), u.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	tok := h.user(u.ID).Token
	for _, ev := range evs {
		for _, secret := range []string{tok.AccessToken, tok.TokenSecret, b.cookie(sessionCookie)} {
			if secret != "" && (strings.Contains(ev.Detail, secret) || strings.Contains(ev.Client, secret)) {
				t.Errorf("event %+v holds a secret", ev)
			}
		}
	}

	// Another user sees only their own.
	other := h.browser()
	other.login(config.OAuth2, "1002")
	if got := other.activityKinds(); !slices.Equal(got, []string{"Signed in"}) {
		t.Errorf("other user's activity = %q, want one sign-in", got)
	}
}

// TestActivity_FailedCallback: a callback that fails in a signed-in
// browser is recorded for that user; without a session it is only logged.
func TestActivity_FailedCallback(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	closeOnCleanup(t, h)
	b := h.browser()
	b.login(config.OAuth2, "1001")
	u := h.user(b.userID())
	b.startLogin(config.OAuth2)
	wantStatus(t, b.get("/auth/oauth2/callback?state=forged&code=x"), http.StatusBadRequest)
	if got := b.activityKinds(); !slices.Equal(got, []string{"Sign-in failed", "Signed in"}) {
		t.Errorf("activity = %q, want the failed callback first", got)
	}

	anon := h.browser()
	wantStatus(t, anon.get("/auth/oauth1/callback?oauth_token=x&oauth_verifier=y"), http.StatusBadRequest)
	evs, err := h.store.EventsByUser(t.Context(), u.ID, 100)
	if err != nil || len(evs) != 2 {
		t.Errorf("events of the signed-in user = %v, %v; want 2", evs, err)
	}
}

func TestBrowserFamily(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari"},
		{"curl/8.8.0", "curl"},
		{"", "other"},
		{"something\nelse", "other"},
	}
	for _, tc := range tests {
		if got := browserFamily(tc.ua); got != tc.want {
			t.Errorf("browserFamily(%q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}

func TestIPPrefix(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"203.0.113.77", "203.0.113.0/24"},
		{"::ffff:203.0.113.77", "203.0.113.0/24"},
		{"2001:db8:abcd:12::1", "2001:db8:abcd::/48"},
		{"fe80::1%eth0", "fe80::/48"},
		{"not an ip", ""},
	}
	for _, tc := range tests {
		if got := ipPrefix(tc.ip); got != tc.want {
			t.Errorf("ipPrefix(%q) = %q, want %q", tc.ip, got, tc.want)
		}
	}
}
