package devtwitter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/oauth1"
	"golang.org/x/oauth2"

	"example.com/twitterlogin/handlers/testdouble"
)

// testCallback is the app's registered callback; it keeps its own query
// so tests see that the provider preserves it.
const testCallback = "http://127.0.0.1:9/auth/twitter/callback?from=test"

// testEnv is a provider on a real HTTP server with a non-redirecting client.
type testEnv struct {
	p      *Provider
	srv    *httptest.Server
	base   string
	clock  *testdouble.Clock
	client *http.Client
}

func newTestEnv(t *testing.T, mods ...func(*Config)) *testEnv {
	t.Helper()
	clock := testdouble.NewClock(time.Now())
	cfg := Config{CallbackURLs: []string{testCallback}, Now: clock.Now}
	for _, m := range mods {
		m(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &testEnv{p: p, srv: srv, base: srv.URL, clock: clock, client: &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (e *testEnv) oauth1Config() *oauth1.Config {
	return &oauth1.Config{
		ConsumerKey: DevConsumerKey, ConsumerSecret: DevConsumerSecret, CallbackURL: testCallback,
		Endpoint: oauth1.Endpoint{
			RequestTokenURL: e.base + "/oauth/request_token",
			AuthorizeURL:    e.base + "/oauth/authenticate",
			AccessTokenURL:  e.base + "/oauth/access_token",
		},
		HTTPClient: e.client,
	}
}

func (e *testEnv) oauth2Config(scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"tweet.read", "users.read"}
	}
	return &oauth2.Config{
		ClientID: DevClientID, ClientSecret: DevClientSecret, RedirectURL: testCallback, Scopes: scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.base + "/i/oauth2/authorize",
			TokenURL:  e.base + "/2/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// get does a GET without following redirects.
func (e *testEnv) get(t *testing.T, rawURL string) *http.Response {
	t.Helper()
	resp, err := e.client.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (e *testEnv) do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// location returns the parsed Location of a 302 response.
func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status = %d, want 302; body %s", resp.StatusCode, b)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location: %v", err)
	}
	if got := u.Query().Get("from"); got != "test" {
		t.Errorf("callback's own query lost: Location = %s", u)
	}
	return u
}

// readBody returns the response body as a string.
func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// wantV1Error checks a v1.1 error response: its status, then the first
// error code in body.
func wantV1Error(t *testing.T, resp *http.Response, body string, status, code int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if got := v1Code(t, body); got != code {
		t.Errorf("code = %d, want %d", got, code)
	}
}

// v1Code decodes a v1.1 error body and returns its first code.
func v1Code(t *testing.T, body string) int {
	t.Helper()
	var e struct {
		Errors []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not a v1.1 error body: %q (%v)", body, err)
	}
	return e.Errors[0].Code
}

// signOpts describes a hand-signed OAuth 1.0a request, for the refusal
// tests that need control over timestamp, nonce and secrets.
type signOpts struct {
	consumerKey, consumerSecret string
	token, tokenSecret          string
	ts                          int64
	nonce                       string
	extra                       map[string]string // more oauth_* header params
	tamper                      bool              // corrupt the signature
}

// signedRequest builds a request signed per RFC 5849 with the package's
// signer (pinned to X's test vector in TestSignature_XVector).
func signedRequest(t *testing.T, method, rawURL string, o signOpts) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	oauth := map[string]string{
		"oauth_consumer_key":     o.consumerKey,
		"oauth_nonce":            o.nonce,
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        strconv.FormatInt(o.ts, 10),
		"oauth_version":          "1.0",
	}
	if o.token != "" {
		oauth["oauth_token"] = o.token
	}
	for k, v := range o.extra {
		oauth[k] = v
	}
	var params []param
	for k, vs := range req.URL.Query() {
		for _, v := range vs {
			params = append(params, param{k, v})
		}
	}
	for k, v := range oauth {
		params = append(params, param{k, v})
	}
	sig := hmacSHA1(signatureBase(method, "http://"+req.URL.Host+req.URL.EscapedPath(), params), o.consumerSecret, o.tokenSecret)
	if o.tamper {
		sig = "A" + sig[1:]
		if sig == oauth["oauth_signature"] {
			sig = "B" + sig[1:]
		}
	}
	oauth["oauth_signature"] = sig
	var parts []string
	for k, v := range oauth {
		parts = append(parts, percentEncode(k)+`="`+percentEncode(v)+`"`)
	}
	req.Header.Set("Authorization", "OAuth "+strings.Join(parts, ", "))
	return req
}

// defaultSign returns signOpts for the dev consumer at the env's clock.
func (e *testEnv) defaultSign(nonce string) signOpts {
	return signOpts{consumerKey: DevConsumerKey, consumerSecret: DevConsumerSecret, ts: e.clock.Now().Unix(), nonce: nonce}
}

// requestToken runs step 1 with the real client.
func (e *testEnv) requestToken(t *testing.T) (token, secret string) {
	t.Helper()
	token, secret, err := e.oauth1Config().RequestToken()
	if err != nil {
		t.Fatalf("RequestToken: %v", err)
	}
	return token, secret
}

// approveOAuth1 runs step 2 non-interactively and returns the verifier.
func (e *testEnv) approveOAuth1(t *testing.T, token, user string) string {
	t.Helper()
	u, err := e.oauth1Config().AuthorizationURL(token)
	if err != nil {
		t.Fatal(err)
	}
	loc := location(t, e.get(t, u.String()+"&auto=approve&user="+user))
	if got := loc.Query().Get("oauth_token"); got != token {
		t.Fatalf("callback oauth_token = %q, want the request token", got)
	}
	return loc.Query().Get("oauth_verifier")
}

// loginOAuth1 runs the OAuth 1.0a flow for user and returns the access
// token and secret.
func (e *testEnv) loginOAuth1(t *testing.T, user string) (token, secret string) {
	t.Helper()
	reqToken, reqSecret := e.requestToken(t)
	token, secret, err := e.oauth1Config().AccessToken(reqToken, reqSecret, e.approveOAuth1(t, reqToken, user))
	if err != nil {
		t.Fatal(err)
	}
	return token, secret
}

// invalidatedOAuth1Token gets an access token for user and invalidates it
// through the API, checking the response and that the token is no longer
// active.
func (e *testEnv) invalidatedOAuth1Token(t *testing.T, user string) (token, secret string) {
	t.Helper()
	at, as := e.loginOAuth1(t, user)
	resp, err := e.oauth1Config().Client(context.Background(), oauth1.NewToken(at, as)).Post(e.base+"/1.1/oauth/invalidate_token.json", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(body, `"access_token":"`+at+`"`) {
		t.Fatalf("invalidate_token: status %d body %s", resp.StatusCode, body)
	}
	if e.p.TokenActive(at) {
		t.Error("TokenActive(invalidated token) = true")
	}
	return at, as
}

// wantGeneratedAvatar checks that avatar is the generated SVG as a data:
// URI, showing the given initials: no URL to the provider, which would
// break when it restarts on another port.
func wantGeneratedAvatar(t *testing.T, avatar, initials string) {
	t.Helper()
	b64, ok := strings.CutPrefix(avatar, "data:image/svg+xml;base64,")
	if !ok {
		t.Fatalf("avatar %q is not an SVG data: URI", avatar)
	}
	svg, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("avatar data: %v", err)
	}
	if !strings.Contains(string(svg), ">"+initials+"</text>") {
		t.Errorf("avatar SVG %s lacks the initials %s", svg, initials)
	}
}

// withExtra returns o with extra parameters kv, given as name, value pairs.
func withExtra(o signOpts, kv ...string) signOpts {
	o.extra = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		o.extra[kv[i]] = kv[i+1]
	}
	return o
}

// authorize runs the browser step with auto=approve and returns the code.
func (e *testEnv) authorize(t *testing.T, conf *oauth2.Config, verifier string) string {
	t.Helper()
	authURL := conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("auto", "approve"), oauth2.SetAuthURLParam("user", "1002"))
	loc := location(t, e.get(t, authURL))
	if got := loc.Query().Get("state"); got != "state-123" {
		t.Fatalf("state = %q, want state-123", got)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	return code
}

// ctx is a context whose oauth2 client is the env's non-redirecting one.
func (e *testEnv) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, e.client)
}

// usersMe calls /2/users/me with a bearer token.
func (e *testEnv) usersMe(t *testing.T, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.base+"/2/users/me?user.fields=profile_image_url", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp := e.do(t, req)
	return resp, readBody(t, resp)
}
