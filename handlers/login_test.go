package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
	"go.mongodb.org/mongo-driver/v2/bson"
)

var flows = []config.Flow{config.OAuth2, config.OAuth1}

// TestLoginSession walks the whole life of a sign-in for each flow: login,
// the signed-in page, a record, a second login that updates the user, and
// logout, after which a kept copy of the cookie is refused.
func TestLoginSession(t *testing.T) {
	for _, flow := range flows {
		t.Run(string(flow), func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			b := h.browser()

			// Signed out: the page offers the sign-in button.
			wantPage(t, b.get("/"), http.StatusOK, "Sign in with Twitter", `href="/auth/oauth2/login"`)

			token := wantFirstLogin(t, h, b, flow)
			uid := wantUserStored(t, h, b, flow, token)
			wantSignedInPage(t, b)
			wantRecordsSaved(t, b)
			wantSecondLoginUpdates(t, h, b, flow, uid, token)
			wantLogout(t, h, b, uid)
		})
	}
}

// wantFirstLogin approves a login as Twitter user 1001 and checks the
// callback's redirect, headers and cookie, and the session token's claims.
// It returns the token.
func wantFirstLogin(t *testing.T, h *harness, b *browser, flow config.Flow) string {
	t.Helper()
	cb := b.consent(b.startLogin(flow), "approve", "1001")
	r := b.get(cb.String())
	wantStatus(t, r, http.StatusFound)
	if loc := r.Header.Get("Location"); loc != "/" {
		t.Errorf("callback redirects to %q, want /", loc)
	}
	if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("callback Referrer-Policy %q, want no-referrer", got)
	}
	checkSessionCookie(t, r.Header.Values("Set-Cookie"))

	token := b.cookie(sessionCookie)
	c := claims(t, token)
	if aud, _ := c["aud"].([]any); c["iss"] != h.app.URL || len(aud) != 1 || aud[0] != "session" {
		t.Errorf("iss %v aud %v; want %s and session", c["iss"], c["aud"], h.app.URL)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != h.cfg.SessionLifetime.Seconds() {
		t.Errorf("exp-iat = %v, want %v", exp-iat, h.cfg.SessionLifetime.Seconds())
	}
	for _, k := range []string{"sub", "jti", "sid", "nbf"} {
		if c[k] == nil || c[k] == "" {
			t.Errorf("claim %s missing: %v", k, c)
		}
	}
	return token
}

// wantUserStored checks the signed-in user as stored, with the Twitter
// token kept out of the session cookie, and returns the user's id.
func wantUserStored(t *testing.T, h *harness, b *browser, flow config.Flow, token string) bson.ObjectID {
	t.Helper()
	uid := b.userID()
	u := h.user(uid)
	if u.TwitterID != "1001" || u.Handle != "ada" || u.Token == nil || u.Token.AccessToken == "" || u.Token.Flow != string(flow) {
		t.Fatalf("stored user = %+v, token %+v", u, u.Token)
	}
	if flow == config.OAuth1 && u.Token.TokenSecret == "" {
		t.Error("OAuth 1.0a token secret not stored")
	}
	for _, secret := range []string{u.Token.AccessToken, u.Token.TokenSecret} {
		if secret != "" && strings.Contains(token, secret) {
			t.Error("the session cookie contains the Twitter token")
		}
	}
	return uid
}

// wantSignedInPage checks the signed-in page: avatar, name, handle, the
// record form, log out, and not cached.
func wantSignedInPage(t *testing.T, b *browser) {
	t.Helper()
	page := b.get("/")
	wantPage(t, page, http.StatusOK, "Ada Lovelace", "@ada", `class="avatar"`, `action="/db"`, "Log out")
	if cc := page.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("signed-in page Cache-Control %q, want no-store", cc)
	}
}

// wantRecordsSaved does POST /db as JSON, then as the page's form, and
// checks both on the page and in GET /db, newest first.
func wantRecordsSaved(t *testing.T, b *browser) {
	t.Helper()
	r := b.post("/db", "application/json", `{"text":"first record"}`)
	wantStatus(t, r, http.StatusCreated)
	var rec struct {
		ID, Text  string
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.Unmarshal([]byte(r.body), &rec); err != nil || rec.ID == "" || rec.Text != "first record" || rec.CreatedAt.IsZero() {
		t.Fatalf("POST /db answered %s", r.body)
	}
	r = b.postForm("/db", url.Values{"text": {"from <the> form"}, "csrf_token": {b.csrf()}})
	wantStatus(t, r, http.StatusSeeOther)
	wantPage(t, b.get("/"), http.StatusOK, "first record", "from &lt;the&gt; form")
	r = b.get("/db")
	wantStatus(t, r, http.StatusOK)
	var list struct{ Records []struct{ Text string } }
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Records) != 2 || list.Records[0].Text != "from <the> form" {
		t.Fatalf("GET /db answered %s", r.body)
	}
}

// wantSecondLoginUpdates logs in again after a rename at Twitter: the same
// user (same id) gets the new name and handle, and a fresh session token.
func wantSecondLoginUpdates(t *testing.T, h *harness, b *browser, flow config.Flow, uid bson.ObjectID, token string) {
	t.Helper()
	h.provider.SetUser(devtwitter.User{ID: "1001", ScreenName: "ada_l", Name: "Countess Lovelace"})
	b.login(flow, "1001")
	if b.userID() != uid {
		t.Fatalf("second login: user id %s, want %s (no duplicate)", b.userID().Hex(), uid.Hex())
	}
	if b.cookie(sessionCookie) == token {
		t.Error("second login reused the session token")
	}
	if u := h.user(uid); u.Handle != "ada_l" || u.Name != "Countess Lovelace" || !u.CreatedAt.Equal(h.user(uid).CreatedAt) {
		t.Errorf("after second login user = %+v", u)
	}
	wantPage(t, b.get("/"), http.StatusOK, "Countess Lovelace", "@ada_l", "first record")
}

// wantLogout logs out: the cookie is cleared, the Twitter token removed,
// and a kept copy of the cookie is refused.
func wantLogout(t *testing.T, h *harness, b *browser, uid bson.ObjectID) {
	t.Helper()
	kept := b.cookie(sessionCookie)
	wantPage(t, b.get("/logout"), http.StatusOK, `action="/logout"`)
	r := b.postForm("/logout", url.Values{"csrf_token": {b.csrf()}})
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Clear-Site-Data"); !strings.Contains(got, `"cookies"`) {
		t.Errorf("logout Clear-Site-Data = %q", got)
	}
	if !clearsCookie(r.Header.Values("Set-Cookie"), sessionCookie) {
		t.Errorf("logout Set-Cookie %q does not clear %s", r.Header.Values("Set-Cookie"), sessionCookie)
	}
	if b.cookie(sessionCookie) != "" {
		t.Error("session cookie still in the jar after logout")
	}
	if u := h.user(uid); u.Token != nil {
		t.Errorf("Twitter token still stored after logout: %+v", u.Token)
	}
	wantPage(t, b.get("/?notice=signed-out"), http.StatusOK, "You are signed out.", "Sign in with Twitter")

	b.setCookie(sessionCookie, kept)
	wantJSONError(t, b.get("/db"), http.StatusUnauthorized)
	if b.cookie(sessionCookie) != "" {
		t.Error("the refused cookie was not cleared")
	}
}

// TestLoginCancelled: declining at Twitter lands on / with a message, and
// nothing is written.
func TestLoginCancelled(t *testing.T) {
	for _, flow := range flows {
		t.Run(string(flow), func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			b := h.browser()
			cb := b.consent(b.startLogin(flow), "deny", "1002")
			r := b.get(cb.String())
			wantStatus(t, r, http.StatusFound)
			if loc := r.Header.Get("Location"); loc != "/?notice=cancelled" {
				t.Fatalf("cancel redirects to %q", loc)
			}
			wantNothingWritten(t, h, b, "1002")
			wantPage(t, b.get(r.Header.Get("Location")), http.StatusOK, "Sign-in was cancelled", "Sign in with Twitter")
		})
	}
}

// approvedWith approves the login at a as Twitter user 1003 and returns
// the callback URL with its query changed by edit.
func approvedWith(b *browser, a *url.URL, edit func(q url.Values)) string {
	cb := b.consent(a, "approve", "1003")
	q := cb.Query()
	edit(q)
	cb.RawQuery = q.Encode()
	return cb.String()
}

// TestCallbackRefused: callbacks that do not belong to a login this
// browser started are refused with 400, and no user or session is written.
func TestCallbackRefused(t *testing.T) {
	tests := []struct {
		name string
		flow config.Flow
		// attack returns the callback URL to deliver, given a browser
		// whose login is in progress and its provider consent URL.
		attack func(t *testing.T, b *browser, authorize *url.URL) string
		// other is true when the callback goes to a different browser.
		other bool
	}{
		{"oauth2 state altered", config.OAuth2, func(t *testing.T, b *browser, a *url.URL) string {
			return approvedWith(b, a, func(q url.Values) { q.Set("state", q.Get("state")+"x") })
		}, false},
		{"oauth2 state missing", config.OAuth2, func(t *testing.T, b *browser, a *url.URL) string {
			return approvedWith(b, a, func(q url.Values) { q.Del("state") })
		}, false},
		{"oauth2 callback in another browser", config.OAuth2, func(t *testing.T, b *browser, a *url.URL) string {
			return b.consent(a, "approve", "1003").String()
		}, true},
		{"oauth2 code from an older login (PKCE mismatch)", config.OAuth2, func(t *testing.T, b *browser, a *url.URL) string {
			old := b.consent(a, "approve", "1003")
			// A new login replaces state and verifier; splice the old code
			// into the new callback.
			return approvedWith(b, b.startLogin(config.OAuth2), func(q url.Values) { q.Set("code", old.Query().Get("code")) })
		}, false},
		{"oauth2 response at the oauth1 callback", config.OAuth2, func(t *testing.T, b *browser, a *url.URL) string {
			cb := b.consent(a, "approve", "1003")
			return b.abs("/auth/oauth1/callback?" + cb.RawQuery)
		}, false},
		{"oauth1 unknown oauth_token", config.OAuth1, func(t *testing.T, b *browser, a *url.URL) string {
			return approvedWith(b, a, func(q url.Values) { q.Set("oauth_token", "not-a-token") })
		}, false},
		{"oauth1 verifier altered", config.OAuth1, func(t *testing.T, b *browser, a *url.URL) string {
			return approvedWith(b, a, func(q url.Values) { q.Set("oauth_verifier", q.Get("oauth_verifier")+"x") })
		}, false},
		{"oauth1 verifier missing", config.OAuth1, func(t *testing.T, b *browser, a *url.URL) string {
			return approvedWith(b, a, func(q url.Values) { q.Del("oauth_verifier") })
		}, false},
		{"oauth1 denied for another token", config.OAuth1, func(t *testing.T, b *browser, a *url.URL) string {
			return b.abs("/auth/oauth1/callback?denied=someone-else")
		}, false},
		{"oauth1 callback in another browser", config.OAuth1, func(t *testing.T, b *browser, a *url.URL) string {
			return b.consent(a, "approve", "1003").String()
		}, true},
	}
	h := newHarness(t, harnessOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := h.browser()
			target := tt.attack(t, b, b.startLogin(tt.flow))
			victim := b
			if tt.other {
				victim = h.browser()
			}
			r := victim.get(target)
			wantPage(t, r, http.StatusBadRequest, "sign-in link is invalid")
			wantNothingWritten(t, h, victim, "1003")
		})
	}
}

// TestCallbackReplay: a callback URL works once; reloading it later (even
// in the same browser) signs no one in.
func TestCallbackReplay(t *testing.T) {
	for _, flow := range flows {
		t.Run(string(flow), func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			b := h.browser()
			cb := b.consent(b.startLogin(flow), "approve", "1001")
			wantStatus(t, b.get(cb.String()), http.StatusFound)

			other := h.browser()
			wantPage(t, other.get(cb.String()), http.StatusBadRequest, "sign-in link is invalid")
			if other.cookie(sessionCookie) != "" {
				t.Error("replayed callback signed a second browser in")
			}
			// The same browser has no login in progress any more.
			wantPage(t, b.get(cb.String()), http.StatusBadRequest, "sign-in link is invalid")
		})
	}
}

// TestLoginStateExpires: a login left at Twitter for longer than
// loginStateTTL cannot be completed.
func TestLoginStateExpires(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	cb := b.consent(b.startLogin(config.OAuth2), "approve", "1001")
	h.clock.Advance(loginStateTTL + time.Second)
	wantPage(t, b.get(cb.String()), http.StatusBadRequest, "sign-in link is invalid")
}
