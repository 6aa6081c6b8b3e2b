package handlers

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
)

// browserFrom is a browser whose connections come from the loopback
// address ip (any of 127.0.0.0/8 works on Linux), so the app sees another
// client IP over real TCP.
func (h *harness) browserFrom(ip string) *browser {
	b := h.browser()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	b.client.Transport = &http.Transport{DialContext: dialer.DialContext}
	return b
}

// wantTooMany checks a 429 with a Retry-After of whole seconds and returns
// that delay.
func wantTooMany(t *testing.T, r *response) time.Duration {
	t.Helper()
	wantStatus(t, r, http.StatusTooManyRequests)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q, want whole seconds >= 1", r.Header.Get("Retry-After"))
	}
	if !strings.Contains(r.body, "Too many") {
		t.Errorf("429 body does not explain itself: %s", r.body)
	}
	return time.Duration(secs) * time.Second
}

// TestRateLimit_LoginPerIP: the burst+1th login start from one IP gets 429
// with Retry-After, another IP is not affected, a spoofed X-Forwarded-For
// changes nothing, and the bucket refills with time.
func TestRateLimit_LoginPerIP(t *testing.T) {
	const burst = 3
	h := newHarness(t, harnessOptions{env: map[string]string{"RATE_LIMIT_LOGIN": fmt.Sprintf("6/m,%d", burst)}})
	a := h.browser()
	for i := range burst {
		r := a.get("/auth/oauth2/login")
		if r.StatusCode != http.StatusFound {
			t.Fatalf("login start %d: status %d, want 302", i+1, r.StatusCode)
		}
	}
	r := a.get("/auth/oauth2/login")
	wait := wantTooMany(t, r)
	wantPage(t, r, http.StatusTooManyRequests, "Too many sign-in attempts")
	if wait > 10*time.Second {
		t.Errorf("Retry-After %v, want at most 10s at 6/m", wait)
	}
	// Both flows' starts share the bucket; callbacks have their own.
	wantTooMany(t, a.get("/auth/oauth1/login"))
	for range burst {
		wantStatus(t, a.get("/auth/oauth2/callback?state=x&code=y"), http.StatusBadRequest)
	}
	wantTooMany(t, a.get("/auth/oauth1/callback?oauth_token=x&oauth_verifier=y"))
	// Without trusted proxies, X-Forwarded-For is the client's word and
	// does not pick another bucket.
	wantTooMany(t, a.get("/auth/oauth2/login", "X-Forwarded-For", "203.0.113.9"))
	wantTooMany(t, a.get("/auth/oauth2/login", "X-Real-IP", "203.0.113.10"))

	// Another client IP has its own bucket.
	b := h.browserFrom("127.0.0.2")
	wantStatus(t, b.get("/auth/oauth2/login"), http.StatusFound)

	// Other routes are not limited.
	wantStatus(t, a.get("/"), http.StatusOK)

	h.clock.Advance(wait)
	wantStatus(t, a.get("/auth/oauth2/login"), http.StatusFound)
}

// TestRateLimit_TrustedProxy: behind a configured proxy, each
// X-Forwarded-For client gets its own bucket.
func TestRateLimit_TrustedProxy(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{
		"RATE_LIMIT_LOGIN": "6/m,2",
		"TRUSTED_PROXIES":  "127.0.0.1",
	}})
	proxy := h.browser()
	for range 2 {
		wantStatus(t, proxy.get("/auth/oauth2/login", "X-Forwarded-For", "203.0.113.7"), http.StatusFound)
	}
	wantTooMany(t, proxy.get("/auth/oauth2/login", "X-Forwarded-For", "203.0.113.7"))
	// The proxy appends the real client to what the client sent; only the
	// address the proxy saw counts.
	wantTooMany(t, proxy.get("/auth/oauth2/login", "X-Forwarded-For", "198.51.100.1, 203.0.113.7"))
	wantStatus(t, proxy.get("/auth/oauth2/login", "X-Forwarded-For", "203.0.113.8"), http.StatusFound)

	// A client that is not the proxy cannot choose its bucket.
	other := h.browserFrom("127.0.0.3")
	for range 2 {
		wantStatus(t, other.get("/auth/oauth2/login", "X-Forwarded-For", "192.0.2.1"), http.StatusFound)
	}
	wantTooMany(t, other.get("/auth/oauth2/login", "X-Forwarded-For", "192.0.2.2"))
}

// TestRateLimit_WritesPerUser: POST /db is limited per signed-in user.
func TestRateLimit_WritesPerUser(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"RATE_LIMIT_WRITES": "60/m,2"}})
	alice := h.browser()
	alice.login(config.OAuth2, "1001")
	for i := range 2 {
		wantStatus(t, alice.post("/db", "application/json", fmt.Sprintf(`{"text":"note %d"}`, i)), http.StatusCreated)
	}
	r := alice.post("/db", "application/json", `{"text":"one too many"}`)
	wantTooMany(t, r)
	wantJSONError(t, r, http.StatusTooManyRequests)
	// The form post gets a page.
	wantPage(t, alice.postForm("/db", map[string][]string{"text": {"form"}, "csrf_token": {alice.csrf()}}), http.StatusTooManyRequests, "Too many requests")
	// Reading is not limited.
	wantStatus(t, alice.get("/db"), http.StatusOK)

	// Another user on the same IP has their own budget.
	bob := h.browser()
	bob.login(config.OAuth2, "1002")
	wantStatus(t, bob.post("/db", "application/json", `{"text":"bob"}`), http.StatusCreated)

	h.clock.Advance(time.Second)
	wantStatus(t, alice.post("/db", "application/json", `{"text":"later"}`), http.StatusCreated)
	if n := strings.Count(alice.get("/db").body, `"text"`); n != 3 {
		t.Errorf("alice has %d records, want 3 (refused posts must not be stored)", n)
	}
}

func TestLimiter_Bounded(t *testing.T) {
	l := newLimiter(config.RateLimit{Events: 60, Per: time.Minute, Burst: 2}, 100)
	now := time.Now()
	for i := range 1000 {
		if ok, _ := l.allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now); !ok {
			t.Fatalf("first request of key %d refused", i)
		}
		if n := l.size(); n > 100 {
			t.Fatalf("limiter holds %d keys, want at most 100", n)
		}
	}
	// Buckets idle long enough to be full again are dropped.
	l.allow("late", now.Add(time.Minute))
	if n := l.size(); n != 1 {
		t.Errorf("after a quiet minute the limiter holds %d keys, want 1", n)
	}
	if newLimiter(config.RateLimit{}, 100) != nil {
		t.Error("an off limit made a limiter")
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"not an ip":            "not an ip",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRateLimit_CallbackHeaders: a rate-limited callback still carries
// the callback's no-referrer and no-store headers, since its URL holds
// the code or verifier.
func TestRateLimit_CallbackHeaders(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"RATE_LIMIT_LOGIN": "6/m,1"}})
	a := h.browser()
	wantStatus(t, a.get("/auth/oauth2/callback?state=x&code=y"), http.StatusBadRequest)
	for _, target := range []string{"/auth/oauth2/callback?state=x&code=y", "/auth/oauth1/callback?oauth_token=x&oauth_verifier=y"} {
		r := a.get(target)
		wantTooMany(t, r)
		if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q, want no-referrer", target, got)
		}
		if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
			t.Errorf("%s: Cache-Control %q, want no-store", target, got)
		}
	}
}
