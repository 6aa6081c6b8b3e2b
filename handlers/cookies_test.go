package handlers

import (
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

// maxCookieBytes is what one Set-Cookie may take: browsers keep about
// 4,096 bytes per cookie (name, value and attributes), and proxies cap
// header sizes; we stay well under.
const maxCookieBytes = 3500

// maxCookiesPerResponse is "a handful": the session, the login state, and
// one to spare.
const maxCookiesPerResponse = 3

// cookieRecorder records the Set-Cookie headers of every response a
// browser gets.
type cookieRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []setCookies
}

type setCookies struct {
	req     string
	headers []string
}

func (r *cookieRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.seen = append(r.seen, setCookies{req.Method + " " + req.URL.Path, resp.Header.Values("Set-Cookie")})
		r.mu.Unlock()
	}
	return resp, err
}

func (b *browser) recordCookies() *cookieRecorder {
	rec := &cookieRecorder{base: http.DefaultTransport}
	b.client.Transport = rec
	return rec
}

// TestCookiesFit: across whole login and logout flows of both kinds (with
// the longest return target, profile and a failing callback), no response
// sets more than a handful of cookies and none is near the browsers'
// limit.
func TestCookiesFit(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	closeOnCleanup(t, h)
	h.provider.SetUser(devtwitter.User{
		ID:         "9223372036854775807", // the largest id
		ScreenName: strings.Repeat("h", 50),
		Name:       strings.Repeat("名", 100),
	})
	longNext := "/activity?" + strings.Repeat("x", maxReturnPath-len("/activity?"))
	if safeReturnPath(longNext) != longNext {
		t.Fatal("test target is not accepted")
	}
	for _, flow := range flows {
		t.Run(string(flow), func(t *testing.T) {
			b := h.browser()
			rec := b.recordCookies()
			wantStatus(t, b.get("/activity"), http.StatusFound)
			r := b.get("/auth/" + string(flow) + "/login?next=" + url.QueryEscape(longNext))
			wantStatus(t, r, http.StatusFound)
			authorize, err := url.Parse(r.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			r = b.get(b.consent(authorize, "approve", "9223372036854775807").String())
			if loc := r.Header.Get("Location"); loc != longNext {
				t.Fatalf("callback redirects to %q, want the long target", loc)
			}
			b.get("/activity")
			b.get("/logout")
			b.logout()
			// A failed callback clears the login state only.
			b.startLogin(flow)
			b.get("/auth/" + string(flow) + "/callback?state=x&code=y&oauth_token=x&oauth_verifier=y")
			b.login(flow, "1001")
			b.get("/")

			for _, s := range rec.seen {
				if len(s.headers) > maxCookiesPerResponse {
					t.Errorf("%s sets %d cookies: %q", s.req, len(s.headers), s.headers)
				}
				for _, c := range s.headers {
					if len(c) >= maxCookieBytes {
						t.Errorf("%s sets a %d-byte cookie, want < %d", s.req, len(c), maxCookieBytes)
					}
				}
			}
		})
	}
}

// TestLargestSessionCookie: the session cookie has no user data in it, so
// its size is set by the issuer; with the longest public URL a host name
// allows, and every claim present, it stays under maxCookieBytes.
func TestLargestSessionCookie(t *testing.T) {
	label := strings.Repeat("a", 63)
	host := strings.Join([]string{label, label, label, strings.Repeat("b", 57)}, ".") + ".example" // 253 bytes
	env := map[string]string{
		"PUBLIC_URL":            "https://" + host + ":65535/" + strings.Repeat("p", 200),
		"TOKEN_AUDIENCE":        "app",
		"SESSION_SECRET":        testSecret,
		"TWITTER_CLIENT_ID":     devtwitter.DevClientID,
		"TWITTER_CLIENT_SECRET": devtwitter.DevClientSecret,
		"TOKEN_ENCRYPTION_KEYS": "k1:V6T7TrylwSjrBaeWzlOVKnG5zF6UwU+7KbmVkHrukvo=",
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, false)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{})
	s, err := New(Options{Config: cfg, Store: h.store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	uid, err := models.UserIDFor("9223372036854775807")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := s.sessions.Issue(w, uid, randomID(), time.Now()); err != nil {
		t.Fatal(err)
	}
	sc := w.Header().Values("Set-Cookie")
	if len(sc) != 1 {
		t.Fatalf("Set-Cookie = %q", sc)
	}
	token := (&http.Response{Header: w.Header()}).Cookies()[0].Value
	for _, k := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid"} {
		if _, ok := claims(t, token)[k]; !ok {
			t.Errorf("claim %s missing", k)
		}
	}
	if n := len(sc[0]); n >= maxCookieBytes {
		t.Errorf("largest session cookie is %d bytes, want < %d", n, maxCookieBytes)
	} else {
		t.Logf("largest session cookie: %d bytes", n)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestRefusedCookie_ClearedOnce: a refused session cookie is cleared by
// exactly one Set-Cookie, on pages and on JSON routes alike.
func TestRefusedCookie_ClearedOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_LIFETIME": "1h"}})
	b := h.browser()
	b.login(config.OAuth2, "1001")
	expired := b.cookie(sessionCookie)
	h.clock.Advance(time.Hour + jwtLeeway + time.Second)
	for name, value := range map[string]string{"forged": "e30.e30.forged", "expired": expired} {
		for _, target := range []string{"/", "/me", "/db", "/sessions"} {
			b.setCookie(sessionCookie, value)
			r := b.get(target)
			n := 0
			for _, line := range r.Header.Values("Set-Cookie") {
				if strings.HasPrefix(line, sessionCookie+"=") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s cookie, GET %s (%d): %d Set-Cookie for %s, want 1: %q",
					name, target, r.StatusCode, n, sessionCookie, r.Header.Values("Set-Cookie"))
			}
		}
	}
}
