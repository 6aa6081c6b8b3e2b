package devtwitter

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestOAuth2_FullFlow(t *testing.T) {
	e := newTestEnv(t)
	conf := e.oauth2Config()
	verifier := oauth2.GenerateVerifier()
	code := e.authorize(t, conf, verifier)
	tok, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if tok.TokenType != "bearer" || tok.RefreshToken != "" || tok.Extra("scope") != "tweet.read users.read" {
		t.Errorf("token = %+v scope %v", tok, tok.Extra("scope"))
	}
	if d := time.Until(tok.Expiry); d < 119*time.Minute || d > 121*time.Minute {
		t.Errorf("expiry in %v, want 2h", d)
	}
	resp, err := conf.Client(e.ctx(), tok).Get(e.base + "/2/users/me?user.fields=profile_image_url")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct {
		Data map[string]string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"id": "1002", "username": "grace", "name": "Grace Hopper"}
	for k, v := range want {
		if me.Data[k] != v {
			t.Errorf("data[%q] = %q, want %q", k, me.Data[k], v)
		}
	}
	wantGeneratedAvatar(t, me.Data["profile_image_url"], "GH")
	if got := resp.Header.Get("x-rate-limit-limit"); got != "75" {
		t.Errorf("x-rate-limit-limit = %q", got)
	}
	st := e.p.Stats()
	if st.CodesIssued != 1 || st.TokensIssued != 1 || st.UsersMe != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestOAuth2_RefreshRotation(t *testing.T) {
	e := newTestEnv(t)
	conf := e.oauth2Config("tweet.read", "users.read", "offline.access")
	verifier := oauth2.GenerateVerifier()
	tok, err := conf.Exchange(e.ctx(), e.authorize(t, conf, verifier), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token with offline.access")
	}
	fresh, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Error("refresh did not rotate the tokens")
	}
	if _, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("reusing the rotated refresh token succeeded")
	}
	// Revoking the refresh token revokes the grant's access tokens too.
	resp := e.revoke(t, fresh.RefreshToken, "refresh_token", true)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke status = %d", resp.StatusCode)
	}
	if e.p.TokenActive(fresh.AccessToken) || e.p.TokenActive(tok.AccessToken) {
		t.Error("access tokens still active after revoking the refresh token")
	}
}

func (e *testEnv) revoke(t *testing.T, token, hint string, basic bool) *http.Response {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, _ := http.NewRequest("POST", e.base+"/2/oauth2/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(DevClientID, DevClientSecret)
	}
	return e.do(t, req)
}

func TestOAuth2_AuthorizeRefusals(t *testing.T) {
	e := newTestEnv(t)
	challenge := s256(oauth2.GenerateVerifier())
	good := url.Values{
		"response_type": {"code"}, "client_id": {DevClientID}, "redirect_uri": {testCallback},
		"scope": {"tweet.read users.read"}, "state": {"s1"}, "code_challenge": {challenge},
		"code_challenge_method": {"S256"}, "auto": {"approve"},
	}
	tests := []struct {
		name      string
		change    map[string]string // "" value deletes
		wantPage  int               // status of an error page without redirect, or 0
		wantError string            // error= in the redirect
	}{
		{"unknown client", map[string]string{"client_id": "evil"}, 400, ""},
		{"missing client", map[string]string{"client_id": ""}, 400, ""},
		{"unregistered redirect", map[string]string{"redirect_uri": "http://127.0.0.1:9/evil"}, 400, ""},
		{"missing redirect", map[string]string{"redirect_uri": ""}, 400, ""},
		{"missing state", map[string]string{"state": ""}, 0, "invalid_request"},
		{"state too long", map[string]string{"state": strings.Repeat("s", 501)}, 0, "invalid_request"},
		{"wrong response_type", map[string]string{"response_type": "token"}, 0, "unsupported_response_type"},
		{"missing challenge", map[string]string{"code_challenge": ""}, 0, "invalid_request"},
		{"missing method", map[string]string{"code_challenge_method": ""}, 0, "invalid_request"},
		{"unknown method", map[string]string{"code_challenge_method": "S512"}, 0, "invalid_request"},
		{"malformed S256 challenge", map[string]string{"code_challenge": "short"}, 0, "invalid_request"},
		{"unknown scope", map[string]string{"scope": "users.read admin"}, 0, "invalid_scope"},
		{"missing scope", map[string]string{"scope": ""}, 0, "invalid_request"},
		{"deny", map[string]string{"auto": "deny"}, 0, "access_denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range good {
				q[k] = v
			}
			for k, v := range tc.change {
				if v == "" {
					q.Del(k)
				} else {
					q.Set(k, v)
				}
			}
			resp := e.get(t, e.base+"/i/oauth2/authorize?"+q.Encode())
			if tc.wantPage != 0 {
				if resp.StatusCode != tc.wantPage || resp.Header.Get("Location") != "" {
					t.Fatalf("status = %d Location %q, want %d page without redirect", resp.StatusCode, resp.Header.Get("Location"), tc.wantPage)
				}
				return
			}
			loc := location(t, resp)
			if got := loc.Query().Get("error"); got != tc.wantError {
				t.Errorf("error = %q, want %q (Location %s)", got, tc.wantError, loc)
			}
			if loc.Query().Has("code") {
				t.Error("error redirect carries a code")
			}
			if st := q.Get("state"); st != "" && len(st) <= 500 && loc.Query().Get("state") != st {
				t.Errorf("state = %q, want %q", loc.Query().Get("state"), st)
			}
		})
	}
}

func TestOAuth2_TokenRefusals(t *testing.T) {
	tests := []struct {
		name       string
		run        func(t *testing.T, e *testEnv, conf *oauth2.Config, code, verifier string) error
		wantStatus int
		wantError  string
	}{
		{"PKCE mismatch", func(t *testing.T, e *testEnv, conf *oauth2.Config, code, _ string) error {
			_, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			return err
		}, 400, "invalid_request"},
		{"missing verifier", func(t *testing.T, e *testEnv, conf *oauth2.Config, code, _ string) error {
			_, err := conf.Exchange(e.ctx(), code)
			return err
		}, 400, "invalid_request"},
		{"wrong redirect_uri", func(t *testing.T, e *testEnv, conf *oauth2.Config, code, verifier string) error {
			conf.RedirectURL = testCallback + "&x=1"
			_, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
			return err
		}, 400, "invalid_request"},
		{"code older than 30 s", func(t *testing.T, e *testEnv, conf *oauth2.Config, code, verifier string) error {
			e.clock.Advance(31 * time.Second)
			_, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
			return err
		}, 400, "invalid_request"},
		{"unknown code", func(t *testing.T, e *testEnv, conf *oauth2.Config, _, verifier string) error {
			_, err := conf.Exchange(e.ctx(), "nope", oauth2.VerifierOption(verifier))
			return err
		}, 400, "invalid_request"},
		{"missing Basic auth (secret in body only)", func(t *testing.T, e *testEnv, conf *oauth2.Config, code, verifier string) error {
			conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			_, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
			return err
		}, 401, "unauthorized_client"},
		{"wrong client secret", func(t *testing.T, e *testEnv, conf *oauth2.Config, code, verifier string) error {
			conf.ClientSecret = "wrong"
			_, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
			return err
		}, 401, "unauthorized_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			conf := e.oauth2Config()
			verifier := oauth2.GenerateVerifier()
			code := e.authorize(t, conf, verifier)
			err := tc.run(t, e, conf, code, verifier)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *oauth2.RetrieveError", err)
			}
			if re.Response.StatusCode != tc.wantStatus || re.ErrorCode != tc.wantError {
				t.Errorf("status %d error %q, want %d %q (body %s)", re.Response.StatusCode, re.ErrorCode, tc.wantStatus, tc.wantError, re.Body)
			}
			if got := re.Response.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			if e.p.Stats().TokensIssued != 0 {
				t.Error("a token was issued")
			}
		})
	}
}

func TestOAuth2_CodeReuseRevokesTokens(t *testing.T) {
	e := newTestEnv(t)
	conf := e.oauth2Config()
	verifier := oauth2.GenerateVerifier()
	code := e.authorize(t, conf, verifier)
	tok, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorDescription != descBadCode {
		t.Fatalf("second Exchange err = %v, want %q", err, descBadCode)
	}
	if e.p.TokenActive(tok.AccessToken) {
		t.Error("token minted from the reused code is still active")
	}
	if resp, _ := e.usersMe(t, tok.AccessToken); resp.StatusCode != 401 {
		t.Errorf("users/me status = %d, want 401", resp.StatusCode)
	}
}

func TestOAuth2_UsersMeRefusals(t *testing.T) {
	tests := []struct {
		name       string
		scopes     []string
		spoil      func(t *testing.T, e *testEnv, token string) string // returns the bearer to send
		wantStatus int
	}{
		{"expired bearer", nil, func(t *testing.T, e *testEnv, token string) string {
			e.clock.Advance(accessTokenTTL + time.Second)
			return token
		}, 401},
		{"revoked bearer", nil, func(t *testing.T, e *testEnv, token string) string {
			if resp := e.revoke(t, token, "access_token", true); resp.StatusCode != 200 {
				t.Fatalf("revoke status = %d", resp.StatusCode)
			}
			return token
		}, 401},
		{"revoke without Basic is refused", nil, func(t *testing.T, e *testEnv, token string) string {
			if resp := e.revoke(t, token, "access_token", false); resp.StatusCode != 401 {
				t.Fatalf("revoke status = %d, want 401", resp.StatusCode)
			}
			return token
		}, 200},
		{"unknown bearer", nil, func(*testing.T, *testEnv, string) string { return "nope" }, 401},
		{"empty bearer", nil, func(*testing.T, *testEnv, string) string { return "" }, 401},
		{"missing tweet.read", []string{"users.read"}, func(_ *testing.T, _ *testEnv, token string) string { return token }, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			conf := e.oauth2Config(tc.scopes...)
			verifier := oauth2.GenerateVerifier()
			tok, err := conf.Exchange(e.ctx(), e.authorize(t, conf, verifier), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			resp, body := e.usersMe(t, tc.spoil(t, e, tok.AccessToken))
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus == 401 {
				const want = `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`
				if strings.TrimSpace(body) != want {
					t.Errorf("body = %s, want %s", body, want)
				}
			}
		})
	}
}
