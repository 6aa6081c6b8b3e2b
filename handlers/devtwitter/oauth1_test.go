package devtwitter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/oauth1"
)

func TestOAuth1_FullFlow(t *testing.T) {
	e := newTestEnv(t)
	conf := e.oauth1Config()
	reqToken, reqSecret := e.requestToken(t)
	verifier := e.approveOAuth1(t, reqToken, "1002")

	accessToken, accessSecret, err := conf.AccessToken(reqToken, reqSecret, verifier)
	if err != nil {
		t.Fatalf("AccessToken: %v", err)
	}
	if !strings.HasPrefix(accessToken, "1002-") || accessSecret == "" {
		t.Errorf("access token = %q (secret %d bytes), want 1002-… and a secret", accessToken, len(accessSecret))
	}
	if !e.p.TokenActive(accessToken) {
		t.Error("TokenActive(new access token) = false")
	}

	client := conf.Client(context.Background(), oauth1.NewToken(accessToken, accessSecret))
	resp, err := client.Get(e.base + "/1.1/account/verify_credentials.json?include_entities=false&skip_status=true&include_email=false")
	if err != nil {
		t.Fatalf("verify_credentials: %v", err)
	}
	defer resp.Body.Close()
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("verify_credentials status = %d, body %s", resp.StatusCode, body)
	}
	var user map[string]any
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&user); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": json.Number("1002"), "id_str": "1002", "screen_name": "grace", "name": "Grace Hopper",
	}
	for k, v := range want {
		if user[k] != v {
			t.Errorf("user[%q] = %#v, want %#v", k, user[k], v)
		}
	}
	avatar, _ := user["profile_image_url_https"].(string)
	wantGeneratedAvatar(t, avatar, "GH")
	for _, k := range []string{"entities", "email", "status"} {
		if _, ok := user[k]; ok {
			t.Errorf("user has %q, want it dropped by the query", k)
		}
	}
	if got := resp.Header.Get("x-rate-limit-limit"); got != "75" {
		t.Errorf("x-rate-limit-limit = %q, want 75", got)
	}
	if got := resp.Header.Get("x-rate-limit-remaining"); got != "74" {
		t.Errorf("x-rate-limit-remaining = %q, want 74", got)
	}
	st := e.p.Stats()
	if st.RequestTokens != 1 || st.AccessTokens != 1 || st.VerifyCredentials != 1 || st.Approvals != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestOAuth1_TokenResponses(t *testing.T) {
	e := newTestEnv(t)
	req := signedRequest(t, "POST", e.base+"/oauth/request_token", withExtra(e.defaultSign("n1"), "oauth_callback", testCallback))
	resp := e.do(t, req)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	v, err := url.ParseQuery(body)
	if err != nil || v.Get("oauth_callback_confirmed") != "true" || v.Get("oauth_token") == "" || v.Get("oauth_token_secret") == "" {
		t.Errorf("body = %q", body)
	}
}

func TestOAuth1_RequestTokenRefusals(t *testing.T) {
	e := newTestEnv(t)
	// One accepted request whose nonce the replay case reuses.
	if resp := e.do(t, signedRequest(t, "POST", e.base+"/oauth/request_token", withExtra(e.defaultSign("used-nonce"), "oauth_callback", testCallback))); resp.StatusCode != http.StatusOK {
		t.Fatalf("setup request_token status = %d", resp.StatusCode)
	}
	cb := func(o signOpts) signOpts { return withExtra(o, "oauth_callback", testCallback) }
	now := e.clock.Now().Unix()
	tests := []struct {
		name       string
		opts       signOpts
		noHeader   bool
		wantStatus int
		wantCode   int
	}{
		{"bad signature", func() signOpts { o := cb(e.defaultSign("a")); o.tamper = true; return o }(), false, 401, 32},
		{"wrong consumer secret", func() signOpts { o := cb(e.defaultSign("b")); o.consumerSecret = "nope"; return o }(), false, 401, 32},
		{"unknown consumer key", func() signOpts { o := cb(e.defaultSign("c")); o.consumerKey = "nope"; return o }(), false, 401, 32},
		{"stale timestamp", func() signOpts { o := cb(e.defaultSign("d")); o.ts = now - 301; return o }(), false, 401, 135},
		{"future timestamp", func() signOpts { o := cb(e.defaultSign("e")); o.ts = now + 301; return o }(), false, 401, 135},
		{"replayed nonce", cb(e.defaultSign("used-nonce")), false, 401, 32},
		{"unregistered callback", withExtra(e.defaultSign("f"), "oauth_callback", "http://127.0.0.1:9/evil"), false, 403, 415},
		{"callback differs by trailing slash", withExtra(e.defaultSign("g"), "oauth_callback", testCallback+"/"), false, 403, 415},
		{"missing callback", e.defaultSign("h"), false, 400, 215},
		{"no Authorization header", signOpts{}, true, 400, 215},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := signedRequest(t, "POST", e.base+"/oauth/request_token", tc.opts)
			if tc.noHeader {
				req.Header.Del("Authorization")
			}
			resp := e.do(t, req)
			body := readBody(t, resp)
			wantV1Error(t, resp, body, tc.wantStatus, tc.wantCode)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	if got := e.p.Stats().RequestTokens; got != 1 {
		t.Errorf("RequestTokens = %d, want 1", got)
	}
}

func TestOAuth1_AccessTokenVariants(t *testing.T) {
	tests := []struct {
		name  string
		build func(e *testEnv, token, secret, verifier string) *http.Request
	}{
		{"verifier in header, request secret", func(e *testEnv, token, secret, verifier string) *http.Request {
			o := withExtra(e.defaultSign("v1"), "oauth_verifier", verifier)
			o.token, o.tokenSecret = token, secret
			return signedRequest(t, "POST", e.base+"/oauth/access_token", o)
		}},
		{"empty request secret (gologin)", func(e *testEnv, token, _, verifier string) *http.Request {
			o := withExtra(e.defaultSign("v2"), "oauth_verifier", verifier)
			o.token = token
			return signedRequest(t, "POST", e.base+"/oauth/access_token", o)
		}},
		{"verifier in query", func(e *testEnv, token, secret, verifier string) *http.Request {
			o := e.defaultSign("v3")
			o.token, o.tokenSecret = token, secret
			return signedRequest(t, "POST", e.base+"/oauth/access_token?oauth_verifier="+url.QueryEscape(verifier), o)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			token, secret := e.requestToken(t)
			verifier := e.approveOAuth1(t, token, "1001")
			resp := e.do(t, tc.build(e, token, secret, verifier))
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, body %s", resp.StatusCode, body)
			}
			v, _ := url.ParseQuery(body)
			if v.Get("user_id") != "1001" || v.Get("screen_name") != "ada" || v.Get("oauth_token") == "" || v.Get("oauth_token_secret") == "" {
				t.Errorf("body = %q", body)
			}
		})
	}
}

func TestOAuth1_AccessTokenRefusals(t *testing.T) {
	tests := []struct {
		name       string
		run        func(t *testing.T, e *testEnv) *http.Response
		wantStatus int
		wantCode   int
	}{
		{"replayed verifier", func(t *testing.T, e *testEnv) *http.Response {
			token, secret := e.requestToken(t)
			verifier := e.approveOAuth1(t, token, "1001")
			if _, _, err := e.oauth1Config().AccessToken(token, secret, verifier); err != nil {
				t.Fatalf("first AccessToken: %v", err)
			}
			o := withExtra(e.defaultSign("r"), "oauth_verifier", verifier)
			o.token, o.tokenSecret = token, secret
			return e.do(t, signedRequest(t, "POST", e.base+"/oauth/access_token", o))
		}, 401, 89},
		{"wrong verifier", func(t *testing.T, e *testEnv) *http.Response {
			token, secret := e.requestToken(t)
			e.approveOAuth1(t, token, "1001")
			o := withExtra(e.defaultSign("w"), "oauth_verifier", "guess")
			o.token, o.tokenSecret = token, secret
			return e.do(t, signedRequest(t, "POST", e.base+"/oauth/access_token", o))
		}, 401, 32},
		{"not yet approved", func(t *testing.T, e *testEnv) *http.Response {
			token, secret := e.requestToken(t)
			o := withExtra(e.defaultSign("na"), "oauth_verifier", "x")
			o.token, o.tokenSecret = token, secret
			return e.do(t, signedRequest(t, "POST", e.base+"/oauth/access_token", o))
		}, 401, 32},
		{"unknown oauth_token", func(t *testing.T, e *testEnv) *http.Response {
			o := withExtra(e.defaultSign("u"), "oauth_verifier", "x")
			o.token = "no-such-token"
			return e.do(t, signedRequest(t, "POST", e.base+"/oauth/access_token", o))
		}, 401, 89},
		{"expired request token", func(t *testing.T, e *testEnv) *http.Response {
			token, secret := e.requestToken(t)
			verifier := e.approveOAuth1(t, token, "1001")
			e.clock.Advance(requestTokenTTL + time.Second)
			o := withExtra(e.defaultSign("x"), "oauth_verifier", verifier)
			o.token, o.tokenSecret = token, secret
			return e.do(t, signedRequest(t, "POST", e.base+"/oauth/access_token", o))
		}, 401, 89},
		{"wrong request secret", func(t *testing.T, e *testEnv) *http.Response {
			token, _ := e.requestToken(t)
			verifier := e.approveOAuth1(t, token, "1001")
			o := withExtra(e.defaultSign("s"), "oauth_verifier", verifier)
			o.token, o.tokenSecret = token, "wrong"
			return e.do(t, signedRequest(t, "POST", e.base+"/oauth/access_token", o))
		}, 401, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			resp := tc.run(t, e)
			body := readBody(t, resp)
			wantV1Error(t, resp, body, tc.wantStatus, tc.wantCode)
		})
	}
}

func TestOAuth1_WrongVerifierBurnsRequestToken(t *testing.T) {
	e := newTestEnv(t)
	token, secret := e.requestToken(t)
	verifier := e.approveOAuth1(t, token, "1001")
	o := withExtra(e.defaultSign("guess"), "oauth_verifier", "guess")
	o.token, o.tokenSecret = token, secret
	e.do(t, signedRequest(t, "POST", e.base+"/oauth/access_token", o))
	if _, _, err := e.oauth1Config().AccessToken(token, secret, verifier); err == nil {
		t.Fatal("AccessToken with the right verifier after a wrong guess succeeded, want the request token used up")
	}
}

func TestOAuth1_AuthorizePage(t *testing.T) {
	e := newTestEnv(t)
	token, _ := e.requestToken(t)
	tests := []struct {
		name, path string
		wantStatus int
	}{
		{"authenticate shows consent", "/oauth/authenticate?oauth_token=" + token, 200},
		{"authorize shows consent", "/oauth/authorize?oauth_token=" + token, 200},
		{"unknown token", "/oauth/authenticate?oauth_token=nope", 400},
		{"missing token", "/oauth/authorize", 400},
		{"bad auto", "/oauth/authenticate?auto=maybe&oauth_token=" + token, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.get(t, e.base+tc.path)
			body := readBody(t, resp)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("Location = %q, want no redirect", loc)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !strings.Contains(body, "Development Twitter provider — not the real Twitter") {
				t.Error("page lacks the development banner")
			}
		})
	}
}

func TestOAuth1_AutoDeny(t *testing.T) {
	e := newTestEnv(t)
	token, secret := e.requestToken(t)
	loc := location(t, e.get(t, e.base+"/oauth/authenticate?oauth_token="+token+"&auto=deny"))
	q := loc.Query()
	if q.Get("denied") != token || q.Has("oauth_token") || q.Has("oauth_verifier") {
		t.Errorf("Location = %s, want denied=<request token> only", loc)
	}
	if _, _, err := e.oauth1Config().AccessToken(token, secret, "x"); err == nil {
		t.Error("AccessToken after deny succeeded")
	}
	if got := e.p.Stats().Denials; got != 1 {
		t.Errorf("Denials = %d, want 1", got)
	}
}

func TestOAuth1_APIRefusals(t *testing.T) {
	e := newTestEnv(t)
	at, as := e.loginOAuth1(t, "1001")
	verifyURL := e.base + "/1.1/account/verify_credentials.json?skip_status=true"

	// A second token that gets invalidated through the API.
	at2, as2 := e.invalidatedOAuth1Token(t, "1002")

	tests := []struct {
		name       string
		req        func() *http.Request
		wantStatus int
		wantCode   int
	}{
		{"invalidated token", func() *http.Request {
			o := e.defaultSign("i")
			o.token, o.tokenSecret = at2, as2
			return signedRequest(t, "GET", verifyURL, o)
		}, 401, 89},
		{"wrong access secret", func() *http.Request {
			o := e.defaultSign("j")
			o.token, o.tokenSecret = at, "wrong"
			return signedRequest(t, "GET", verifyURL, o)
		}, 401, 32},
		{"query not signed as sent", func() *http.Request {
			o := e.defaultSign("k")
			o.token, o.tokenSecret = at, as
			req := signedRequest(t, "GET", verifyURL, o)
			req.URL.RawQuery = "skip_status=false"
			return req
		}, 401, 32},
		{"no token", func() *http.Request { return signedRequest(t, "GET", verifyURL, e.defaultSign("l")) }, 400, 215},
		{"unknown token", func() *http.Request {
			o := e.defaultSign("m")
			o.token, o.tokenSecret = "1001-nope", "x"
			return signedRequest(t, "GET", verifyURL, o)
		}, 401, 89},
		{"request token is not an access token", func() *http.Request {
			tok, sec := e.requestToken(t)
			o := e.defaultSign("n")
			o.token, o.tokenSecret = tok, sec
			return signedRequest(t, "GET", verifyURL, o)
		}, 401, 89},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(t, tc.req())
			body := readBody(t, resp)
			wantV1Error(t, resp, body, tc.wantStatus, tc.wantCode)
		})
	}
	if !e.p.TokenActive(at) {
		t.Error("TokenActive(untouched token) = false")
	}
}

func TestOAuth1_RenamedUser(t *testing.T) {
	e := newTestEnv(t)
	conf := e.oauth1Config()
	token, secret := e.requestToken(t)
	at, as, err := conf.AccessToken(token, secret, e.approveOAuth1(t, token, "1001"))
	if err != nil {
		t.Fatal(err)
	}
	e.p.SetUser(User{ID: "1001", ScreenName: "countess", Name: "Augusta Ada King", AvatarURL: "https://pbs.twimg.com/profile_images/1/a_normal.png"})
	resp, err := conf.Client(context.Background(), oauth1.NewToken(at, as)).Get(e.base + "/1.1/account/verify_credentials.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var u v1User
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
		t.Fatal(err)
	}
	if u.IDStr != "1001" || u.ScreenName != "countess" || u.ProfileImageURLHTTPS != "https://pbs.twimg.com/profile_images/1/a_normal.png" {
		t.Errorf("user = %+v", u)
	}
}
