package devtwitter

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"example.com/twitterlogin/handlers/testdouble"
)

var consentIDRe = regexp.MustCompile(`name="consent" value="([^"]+)"`)

// postConsent loads a consent page and submits it like a browser would.
func (e *testEnv) postConsent(t *testing.T, pageURL, user, action string, header http.Header) *http.Response {
	t.Helper()
	resp := e.get(t, pageURL)
	page := readBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("consent page status = %d", resp.StatusCode)
	}
	for _, want := range []string{"Development Twitter provider — not the real Twitter", ">Authorize<", ">Cancel<", `value="1001"`, `value="1002"`} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	m := consentIDRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no consent id in page")
	}
	form := url.Values{"consent": {m[1]}, "user": {user}, "action": {action}}
	req, _ := http.NewRequest("POST", e.base+"/_dev/consent", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return e.do(t, req)
}

var sameOrigin = http.Header{"Sec-Fetch-Site": {"same-origin"}}

func TestConsent_OAuth1(t *testing.T) {
	tests := []struct{ action, wantParam string }{
		{"approve", "oauth_verifier"},
		{"deny", "denied"},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			e := newTestEnv(t)
			token, secret := e.requestToken(t)
			loc := location(t, e.postConsent(t, e.base+"/oauth/authorize?oauth_token="+token, "1002", tc.action, sameOrigin))
			if !loc.Query().Has(tc.wantParam) {
				t.Fatalf("Location = %s, want %s", loc, tc.wantParam)
			}
			if tc.action == "approve" {
				if _, _, err := e.oauth1Config().AccessToken(token, secret, loc.Query().Get("oauth_verifier")); err != nil {
					t.Errorf("AccessToken: %v", err)
				}
			}
		})
	}
}

func TestConsent_OAuth2(t *testing.T) {
	tests := []struct{ action, wantParam string }{
		{"approve", "code"},
		{"deny", "error"},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			e := newTestEnv(t)
			conf := e.oauth2Config()
			verifier := oauth2.GenerateVerifier()
			loc := location(t, e.postConsent(t, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "1001", tc.action, sameOrigin))
			if loc.Query().Get("state") != "st" || !loc.Query().Has(tc.wantParam) {
				t.Fatalf("Location = %s", loc)
			}
			if tc.action == "deny" {
				if got := loc.Query().Get("error"); got != "access_denied" {
					t.Errorf("error = %q, want access_denied", got)
				}
				return
			}
			if _, err := conf.Exchange(e.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
				t.Errorf("Exchange: %v", err)
			}
		})
	}
}

func TestConsent_Refusals(t *testing.T) {
	tests := []struct {
		name       string
		header     http.Header
		user       string
		action     string
		wantStatus int
	}{
		{"cross-site fetch metadata", http.Header{"Sec-Fetch-Site": {"cross-site"}}, "1001", "approve", 403},
		{"foreign Origin", http.Header{"Origin": {"http://evil.example"}}, "1001", "approve", 403},
		{"unknown user", sameOrigin, "9999", "approve", 400},
		{"bad action", sameOrigin, "1001", "maybe", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			token, _ := e.requestToken(t)
			resp := e.postConsent(t, e.base+"/oauth/authenticate?oauth_token="+token, tc.user, tc.action, tc.header)
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Location") != "" {
				t.Errorf("status = %d Location %q, want %d without redirect", resp.StatusCode, resp.Header.Get("Location"), tc.wantStatus)
			}
		})
	}
}

func TestConsent_SingleUse(t *testing.T) {
	e := newTestEnv(t)
	token, _ := e.requestToken(t)
	resp := e.get(t, e.base+"/oauth/authenticate?oauth_token="+token)
	id := consentIDRe.FindStringSubmatch(readBody(t, resp))[1]
	for i, want := range []int{302, 400} {
		form := url.Values{"consent": {id}, "user": {"1001"}, "action": {"approve"}}
		resp := e.do(t, mustPost(t, e.base+"/_dev/consent", form))
		if resp.StatusCode != want {
			t.Errorf("submission %d: status = %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

func mustPost(t *testing.T, target string, form url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestAvatar(t *testing.T) {
	e := newTestEnv(t)
	e.p.SetUser(User{ID: "1004", ScreenName: "<script>", Name: "<script>alert(1)</script>"})
	tests := []struct {
		path       string
		wantStatus int
		wantText   string
	}{
		{"/avatars/1001.svg", 200, ">AL</text>"},
		{"/avatars/1004.svg", 200, "&lt;"},
		{"/avatars/9999.svg", 404, ""},
		{"/avatars/1001.png", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp := e.get(t, e.base+tc.path)
			body := readBody(t, resp)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus != 200 {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" {
				t.Errorf("Content-Type = %q", ct)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); csp != "default-src 'none'; style-src 'unsafe-inline'" {
				t.Errorf("CSP = %q", csp)
			}
			if !strings.Contains(body, tc.wantText) || strings.Contains(body, "<script") {
				t.Errorf("body = %s", body)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	e := newTestEnv(t)
	conf := e.oauth2Config()
	verifier := oauth2.GenerateVerifier()
	tok, err := conf.Exchange(e.ctx(), e.authorize(t, conf, verifier), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		fault      Fault
		wantStatus int
		wantBody   string
	}{
		{"users/me 503", "/2/users/me", Fault{Status: 503}, 503, `"status":503`},
		{"users/me 429", "/2/users/me", Fault{Status: 429}, 429, `"Too Many Requests"`},
		{"verify_credentials 401", "/1.1/account/verify_credentials.json", Fault{Status: 401}, 401, `"code":32`},
		{"token 500", "/2/oauth2/token", Fault{Status: 500}, 500, `"error":"server_error"`},
		{"delay only", "/2/users/me", Fault{Delay: 50 * time.Millisecond}, 200, `"username":"grace"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.p.SetFault(tc.path, tc.fault)
			defer e.p.ClearFaults()
			var req *http.Request
			if strings.HasPrefix(tc.path, "/2/oauth2/") {
				req = mustPost(t, e.base+tc.path, url.Values{"grant_type": {"refresh_token"}})
			} else {
				req, _ = http.NewRequest("GET", e.base+tc.path, nil)
			}
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			start := time.Now()
			resp := e.do(t, req)
			body := readBody(t, resp)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Errorf("status %d body %s, want %d with %s", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if time.Since(start) < tc.fault.Delay {
				t.Errorf("answered after %v, want at least %v", time.Since(start), tc.fault.Delay)
			}
			if tc.wantStatus == 429 && resp.Header.Get("x-rate-limit-remaining") != "0" {
				t.Error("429 without x-rate-limit-remaining: 0")
			}
		})
	}
	if resp, _ := e.usersMe(t, tok.AccessToken); resp.StatusCode != 200 {
		t.Errorf("after ClearFaults status = %d, want 200", resp.StatusCode)
	}
	if got := e.p.Stats().Faults; got != len(tests) {
		t.Errorf("Stats.Faults = %d, want %d", got, len(tests))
	}
}

func TestFaults_DelayHonoursCancellation(t *testing.T) {
	e := newTestEnv(t)
	e.p.SetFault("/2/users/me", Fault{Delay: time.Hour, Status: 503})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/2/users/me", nil)
	start := time.Now()
	_, err := e.client.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	// The server side must have given up too: Close waits for handlers.
	done := make(chan struct{})
	go func() { e.srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("handler still sleeping after the client went away")
	}
}

func TestNew_Validation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"defaults", Config{CallbackURLs: []string{testCallback}}, false},
		{"oob", Config{CallbackURLs: []string{"oob"}}, false},
		{"no callbacks", Config{}, true},
		{"relative callback", Config{CallbackURLs: []string{"/callback"}}, true},
		{"non-decimal user id", Config{CallbackURLs: []string{testCallback}, Users: []User{{ID: "abc", ScreenName: "x"}}}, true},
		{"duplicate user", Config{CallbackURLs: []string{testCallback}, Users: []User{{ID: "1", ScreenName: "a"}, {ID: "1", ScreenName: "b"}}}, true},
		{"missing screen name", Config{CallbackURLs: []string{testCallback}, Users: []User{{ID: "1"}}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Errorf("New err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

func TestAddCallbackURL(t *testing.T) {
	e := newTestEnv(t)
	const late = "http://127.0.0.1:7/late/callback"
	conf := e.oauth1Config()
	conf.CallbackURL = late
	if _, _, err := conf.RequestToken(); err == nil {
		t.Fatal("unregistered callback accepted")
	}
	e.p.AddCallbackURL(late)
	if _, _, err := conf.RequestToken(); err != nil {
		t.Fatalf("RequestToken after AddCallbackURL: %v", err)
	}
}

func TestLogsNoSecrets(t *testing.T) {
	logs := &testdouble.Buffer{}
	e := newTestEnv(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	// A refused request logs too.
	e.do(t, signedRequest(t, "POST", e.base+"/oauth/request_token", withExtra(e.defaultSign("z"), "oauth_callback", "http://127.0.0.1:9/evil?secret=1")))
	token, secret := e.requestToken(t)
	verifier := e.approveOAuth1(t, token, "1001")
	at, as, err := e.oauth1Config().AccessToken(token, secret, verifier)
	if err != nil {
		t.Fatal(err)
	}
	conf := e.oauth2Config()
	v := oauth2.GenerateVerifier()
	code := e.authorize(t, conf, v)
	tok, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if out == "" {
		t.Fatal("nothing logged")
	}
	for _, s := range []string{token, secret, verifier, at, as, code, tok.AccessToken, v, DevConsumerSecret, DevClientSecret} {
		if strings.Contains(out, s) {
			t.Errorf("log contains a secret value %q", s)
		}
	}
}
