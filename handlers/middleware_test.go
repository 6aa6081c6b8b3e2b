package handlers

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestMiddlewareRefuses lists session cookies the middleware must refuse.
// Each is refused with 401 (JSON on /db) and cleared, while the same
// browser's genuine cookie is accepted.
func TestMiddlewareRefuses(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	b.login("oauth2", "1001")
	genuine := b.cookie(sessionCookie)
	f := newForger(t, h, genuine)

	// A second user's live session, to splice with the first user's id.
	other := h.browser()
	other.login("oauth2", "1002")
	otherSID := claims(t, other.cookie(sessionCookie))["sid"].(string)

	// A user deleted after signing in.
	gone := h.browser()
	gone.login("oauth1", "1003")
	goneCookie := gone.cookie(sessionCookie)
	if err := h.store.DeleteUser(context.Background(), gone.userID()); err != nil {
		t.Fatal(err)
	}

	for _, tt := range refusedCookies(t, f, genuine, otherSID, goneCookie) {
		t.Run(tt.name, func(t *testing.T) {
			eve := h.browser()
			eve.setCookie(sessionCookie, tt.cookie)
			r := eve.get("/db")
			wantJSONError(t, r, http.StatusUnauthorized)
			if tt.cookie != "" && !clearsCookie(r.Header.Values("Set-Cookie"), sessionCookie) {
				t.Errorf("refused cookie not cleared: Set-Cookie %q", r.Header.Values("Set-Cookie"))
			}
			// The open page shows the signed-out view for the same cookie.
			eve.setCookie(sessionCookie, tt.cookie)
			wantPage(t, eve.get("/"), http.StatusOK, "Sign in with Twitter")
		})
	}

	t.Run("no cookie", func(t *testing.T) {
		r := h.browser().get("/db")
		wantJSONError(t, r, http.StatusUnauthorized)
		if r.Header.Get("Set-Cookie") != "" {
			t.Errorf("Set-Cookie %q on a request without a cookie", r.Header.Get("Set-Cookie"))
		}
	})
	t.Run("genuine cookie still accepted", func(t *testing.T) {
		wantStatus(t, b.get("/db"), http.StatusOK)
		wantStatus(t, other.get("/db"), http.StatusOK)
	})
	t.Run("well-formed forgery of the genuine claims is accepted", func(t *testing.T) {
		// Guards the table of refusals: they are not because our
		// hand-made tokens are always wrong.
		eve := h.browser()
		eve.setCookie(sessionCookie, f.sign(jwt.SigningMethodHS256, f.key, f.good(), sessionTyp))
		wantStatus(t, eve.get("/db"), http.StatusOK)
	})
}

// forger makes session tokens for one live session, signed as package
// session signs them, that differ from the genuine one as a case says.
type forger struct {
	t        *testing.T
	iss, sid string
	uid      bson.ObjectID
	now      time.Time
	key      []byte
	kid      string
}

func newForger(t *testing.T, h *harness, genuine string) *forger {
	t.Helper()
	c := claims(t, genuine)
	uid, _ := bson.ObjectIDFromHex(c["sub"].(string))
	key, kid := sessionSigningKey(t, h.cfg.SessionSecret)
	return &forger{t: t, iss: h.app.URL, sid: c["sid"].(string), uid: uid, now: h.clock.Now(), key: key, kid: kid}
}

// good returns valid claims for the live session; cases change one thing.
func (f *forger) good() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": f.iss, "aud": "session", "sub": f.uid.Hex(), "sid": f.sid, "jti": "j",
		"iat": f.now.Unix(), "nbf": f.now.Unix(), "exp": f.now.Add(time.Hour).Unix(),
	}
}

// sign signs claims with m and k under the session kid, with typ unless "".
func (f *forger) sign(m jwt.SigningMethod, k any, claims jwt.MapClaims, typ string) string {
	f.t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if typ != "" {
		tok.Header["typ"] = typ
	}
	tok.Header["kid"] = f.kid
	s, err := tok.SignedString(k)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// with returns good claims with k set to v, or without k when v is nil.
func (f *forger) with(k string, v any) jwt.MapClaims {
	m := f.good()
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	return m
}

// refusedCookies lists the session cookies the middleware must refuse,
// each differing from genuine in one respect.
func refusedCookies(t *testing.T, f *forger, genuine, otherSID, goneCookie string) []struct{ name, cookie string } {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key, now, hs256 := f.key, f.now, jwt.SigningMethodHS256
	sign, with, good := f.sign, f.with, f.good
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"session+jwt"}`))
	payload := strings.Split(genuine, ".")[1]
	return []struct{ name, cookie string }{
		{"garbage", "not-a-jwt"},
		{"empty", ""},
		{"alg none", noneHeader + "." + payload + "."},
		{"alg none with signature", noneHeader + "." + payload + "." + strings.Split(genuine, ".")[2]},
		{"HS512 with the right key", sign(jwt.SigningMethodHS512, key, good(), sessionTyp)},
		{"HS384 with the right key", sign(jwt.SigningMethodHS384, key, good(), sessionTyp)},
		{"RS256", sign(jwt.SigningMethodRS256, rsaKey, good(), sessionTyp)},
		{"bad signature", genuine[:len(genuine)-2] + flip(genuine[len(genuine)-2:])},
		{"signed with another key", sign(hs256, []byte("another-key-0123456789abcdefghijk"), good(), sessionTyp)},
		{"payload swapped", strings.Join([]string{strings.Split(genuine, ".")[0], base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)), strings.Split(genuine, ".")[2]}, ".")},
		{"typ JWT", sign(hs256, key, good(), "JWT")},
		{"typ at+jwt (a service token)", sign(hs256, key, good(), "at+jwt")},
		{"no typ", sign(hs256, key, good(), "")},
		{"unknown kid", withKID(t, sign(hs256, key, good(), sessionTyp), "not-a-key")},
		{"kid as a path", withKID(t, sign(hs256, key, good(), sessionTyp), "../../etc/passwd")},
		{"no kid", withKID(t, sign(hs256, key, good(), sessionTyp), "")},
		{"expired", sign(hs256, key, with("exp", now.Add(-time.Minute).Unix()), sessionTyp)},
		{"no exp", sign(hs256, key, with("exp", nil), sessionTyp)},
		{"not yet valid", sign(hs256, key, with("nbf", now.Add(time.Minute).Unix()), sessionTyp)},
		{"issued in the future", sign(hs256, key, with("iat", now.Add(time.Minute).Unix()), sessionTyp)},
		{"no iat", sign(hs256, key, with("iat", nil), sessionTyp)},
		{"wrong issuer", sign(hs256, key, with("iss", "https://evil.example"), sessionTyp)},
		{"no issuer", sign(hs256, key, with("iss", nil), sessionTyp)},
		{"wrong audience", sign(hs256, key, with("aud", "api"), sessionTyp)},
		{"no audience", sign(hs256, key, with("aud", nil), sessionTyp)},
		{"subject not an id", sign(hs256, key, with("sub", "1001"), sessionTyp)},
		{"subject an operator", sign(hs256, key, with("sub", `{"$ne":null}`), sessionTyp)},
		{"no subject", sign(hs256, key, with("sub", nil), sessionTyp)},
		{"unknown user", sign(hs256, key, with("sub", bson.NewObjectID().Hex()), sessionTyp)},
		{"unknown session", sign(hs256, key, with("sid", "no-such-session"), sessionTyp)},
		{"no session id", sign(hs256, key, with("sid", nil), sessionTyp)},
		{"another user's session", sign(hs256, key, with("sid", otherSID), sessionTyp)},
		{"deleted user", goneCookie},
	}
}

// withKID re-signs nothing: it swaps the token's kid header (or drops it
// when kid is ""), so the signature no longer matches the header either
// way; the case checks that an unknown kid is refused before that.
func withKID(t *testing.T, token, kid string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr map[string]any
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	if kid == "" {
		delete(hdr, "kid")
	} else {
		hdr["kid"] = kid
	}
	b, _ := json.Marshal(hdr)
	parts[0] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// flip changes the base64url characters s so the signature no longer
// matches.
func flip(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
	}
	return string(out)
}

// TestSessionExpires: once SESSION_LIFETIME has passed, the cookie is
// refused.
func TestSessionExpires(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_LIFETIME": "1h"}})
	b := h.browser()
	b.login("oauth2", "1001")
	wantStatus(t, b.get("/db"), http.StatusOK)
	h.clock.Advance(time.Hour + jwtLeeway + time.Second)
	wantJSONError(t, b.get("/db"), http.StatusUnauthorized)
}

// TestHTMLUnauthorized: a browser page (not JSON) that needs a session
// gets an HTML 401 page with a way to sign in.
func TestHTMLUnauthorized(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	r := b.postForm("/db", map[string][]string{"text": {"x"}, "csrf_token": {"x"}})
	wantPage(t, r, http.StatusUnauthorized, "Please sign in.", `href="/"`)
	// GET /logout signed out is sent to sign in (and back).
	r = b.get("/logout")
	wantStatus(t, r, http.StatusFound)
}

// TestSessionSecretRotation: after SESSION_SECRET changes, cookies signed
// with the old secret keep working while it is listed in
// SESSION_SECRETS_OLD, new cookies use the new secret, and once the old
// secret is dropped its cookies are refused.
func TestSessionSecretRotation(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_CACHE_TTL": "0s"}})
	b := h.browser()
	b.login("oauth2", "1001")
	oldCookie := b.cookie(sessionCookie)

	// Other instances (same store, URL and clock) with rotated secrets.
	rotated := func(secret string, old ...string) *httptest.Server {
		cfg := *h.cfg
		cfg.SessionSecret, cfg.OldSessionSecrets = []byte(secret), nil
		for _, o := range old {
			cfg.OldSessionSecrets = append(cfg.OldSessionSecrets, []byte(o))
		}
		srv, err := New(Options{Config: &cfg, Store: h.store, Now: h.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		return ts
	}
	const newSecret = "rotated-secret-0123456789-abcdefghijklmno"
	during := rotated(newSecret, testSecret)
	after := rotated(newSecret)

	if got := getWithCookie(t, during.URL, "/me", oldCookie); got != http.StatusOK {
		t.Errorf("old cookie while the old secret is listed: %d, want 200", got)
	}
	if got := getWithCookie(t, after.URL, "/me", oldCookie); got != http.StatusUnauthorized {
		t.Errorf("old cookie once the old secret is dropped: %d, want 401", got)
	}
	if kidOf(t, oldCookie) == "" {
		t.Error("session cookie has no kid")
	}
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	var hdr struct{ Kid string }
	json.Unmarshal(raw, &hdr)
	return hdr.Kid
}

// TestTrailingSlashNotRedirected: a path with an extra slash is an
// ordinary 404 through the middleware, not gin's bare redirect that
// honours a client-sent X-Forwarded-Prefix.
func TestTrailingSlashNotRedirected(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	for _, target := range []string{"/db/", "/sessions/", "/auth/oauth2/login/"} {
		r := b.get(target, "X-Forwarded-Prefix", "//evil.example")
		wantStatus(t, r, http.StatusNotFound)
		if loc := r.Header.Get("Location"); loc != "" {
			t.Errorf("%s: Location %q, want none", target, loc)
		}
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", target, got)
		}
		if r.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no Content-Security-Policy", target)
		}
	}
}

// TestMeResponseAndAccessLog pins down what the middleware chain adds to
// a signed-in GET /me: exactly these response headers, and one access
// log line with exactly these fields in this order.
func TestMeResponseAndAccessLog(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	b.login("oauth2", "1001")
	r := b.get("/me", "X-Request-Id", "me-log-check")
	wantStatus(t, r, http.StatusOK)
	var me struct{ ID string }
	if err := json.Unmarshal([]byte(r.body), &me); err != nil || me.ID == "" {
		t.Fatalf("GET /me body %q: %v", r.body, err)
	}
	want := http.Header{
		"Cache-Control":              {"no-store"},
		"Content-Length":             {fmt.Sprint(len(r.body))},
		"Content-Security-Policy":    {contentSecurityPolicy(h.cfg)},
		"Content-Type":               {"application/json; charset=utf-8"},
		"Cross-Origin-Opener-Policy": {"same-origin"},
		"Referrer-Policy":            {"strict-origin-when-cross-origin"},
		"X-Content-Type-Options":     {"nosniff"},
		"X-Frame-Options":            {"DENY"},
		"X-Request-Id":               {"me-log-check"},
	}
	got := r.Header.Clone()
	got.Del("Date")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headers\n got %v\nwant %v", got, want)
	}
	line := regexp.MustCompile(`^\{"time":"[^"]+","level":"INFO","msg":"request","request_id":"me-log-check",` +
		`"method":"GET","path":"/me","route":"/me","status":200,"bytes":` + fmt.Sprint(len(r.body)) +
		`,"duration_ms":[0-9.e+-]+,"user_id":"` + me.ID + `"\}$`)
	var n int
	for l := range strings.Lines(h.logs.String()) {
		if strings.Contains(l, `"request_id":"me-log-check"`) {
			n++
			if !line.MatchString(strings.TrimSuffix(l, "\n")) {
				t.Errorf("log line %s does not match %s", l, line)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d log lines for the request, want 1:\n%s", n, h.logs.String())
	}
}
