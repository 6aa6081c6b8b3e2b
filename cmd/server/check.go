package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dghubble/oauth1"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/tokenkeys"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
)

// `server -check` validates the configuration the way the server would use
// it and prints one line per check, "OK" or "FAIL" with a hint. It never
// prints a secret: only names, lengths, URLs and Twitter's status codes.

// errCheckFailed is returned by checkConfig when any check failed, so the
// program exits non-zero.
var errCheckFailed = errors.New("configuration check failed")

// checkStoreTimeout bounds connecting to the store during a check.
const checkStoreTimeout = 5 * time.Second

// minTwitterSecretLen is shorter than any real Twitter secret (X issues
// 50-character secrets) and than the dev provider's.
const minTwitterSecretLen = 16

// checker prints the result lines and counts failures.
type checker struct {
	w        io.Writer
	failures int
	total    int
}

func (c *checker) ok(name, format string, args ...any) {
	c.total++
	fmt.Fprintf(c.w, "OK   %s: %s\n", name, fmt.Sprintf(format, args...))
}

func (c *checker) fail(name, msg, hint string) {
	c.total++
	c.failures++
	line := fmt.Sprintf("FAIL %s: %s", name, msg)
	if hint != "" {
		line += " (hint: " + hint + ")"
	}
	fmt.Fprintln(c.w, line)
}

// checkConfig runs every check and returns errCheckFailed if one failed.
func checkConfig(ctx context.Context, getenv func(string) string, dev bool, stdout io.Writer) error {
	c := &checker{w: stdout}
	cfg, err := config.Load(getenv, dev)
	if err != nil {
		// config.Load names every bad variable, one per line.
		_, list, _ := strings.Cut(err.Error(), "\n")
		for p := range strings.SplitSeq(list, "\n") {
			if p = strings.TrimSpace(p); p != "" {
				c.fail("config", p, "fix the variable; see the Configuration table in README.md")
			}
		}
		if c.failures == 0 {
			c.fail("config", err.Error(), "")
		}
		fmt.Fprintf(stdout, "%d of %d checks failed; the other checks need a valid configuration\n", c.failures, c.total)
		return errCheckFailed
	}
	c.ok("config", "every variable is valid")
	c.checkSecrets(cfg)
	c.checkURLs(cfg)
	c.checkStore(ctx, cfg)
	c.checkTwitter(ctx, cfg)
	if c.failures > 0 {
		fmt.Fprintf(stdout, "%d of %d checks failed\n", c.failures, c.total)
		return errCheckFailed
	}
	fmt.Fprintf(stdout, "all %d checks passed\n", c.total)
	return nil
}

// checkSecrets checks that the secrets are there and plausibly long; it
// prints lengths, never values.
func (c *checker) checkSecrets(cfg *config.Config) {
	switch n := len(cfg.SessionSecret); {
	case cfg.GeneratedSessionSecret:
		c.ok("SESSION_SECRET", "not set: dev mode keeps a generated one in %s", filepath.Join(cfg.DataDir, config.DevSessionSecretFile))
	case config.DistinctBytes(cfg.SessionSecret) < config.MinDistinctBytes:
		c.fail("SESSION_SECRET", fmt.Sprintf("%d bytes but only %d different characters", n, config.DistinctBytes(cfg.SessionSecret)),
			"use random bytes, e.g. `openssl rand -base64 48`")
	case !config.LooksRandom(cfg.SessionSecret):
		c.fail("SESSION_SECRET", fmt.Sprintf("%d bytes but looks like a placeholder", n),
			"use random bytes, e.g. `openssl rand -base64 48`")
	default:
		c.ok("SESSION_SECRET", "%d bytes (at least %d)", n, config.MinSecretLen)
	}
	if cfg.DevProvider {
		c.ok("Twitter keys", "none set: dev mode uses the in-process dev provider and its own keys")
		return
	}
	t := cfg.Twitter
	secrets := []struct {
		flow        config.Flow
		name, value string
	}{
		{config.OAuth2, "TWITTER_CLIENT_SECRET", t.ClientSecret},
		{config.OAuth1, "TWITTER_CONSUMER_SECRET", t.ConsumerSecret},
	}
	for _, s := range secrets {
		if !cfg.HasFlow(s.flow) {
			continue
		}
		if len(s.value) < minTwitterSecretLen {
			c.fail(s.name, fmt.Sprintf("only %d characters", len(s.value)),
				"Twitter secrets are about 50 characters: copy the whole secret from the app's Keys and tokens page")
			continue
		}
		c.ok(s.name, "set (%d characters)", len(s.value))
	}
	if cfg.HasFlow(config.OAuth1) && cfg.HasFlow(config.OAuth2) && t.ClientID == t.ConsumerKey {
		c.fail("TWITTER_CLIENT_ID", "equals TWITTER_CONSUMER_KEY",
			"the OAuth 2.0 Client ID and the OAuth 1.0a API Key are different values on the Keys and tokens page")
	}
	if len(cfg.Tokens.Keys) > 0 {
		if keys, err := tokenkeys.Load(cfg.Tokens.Keys, time.Now()); err != nil {
			c.fail("TOKEN_KEY_FILES", err.Error(), "each key needs its certificate at the same position in TOKEN_CERT_FILES")
		} else {
			c.ok("TOKEN_KEY_FILES", "%d service-token signing key(s) load and match their certificates", len(keys.Keys()))
		}
	}
}

// checkURLs prints the public URL and the callback URLs to register.
func (c *checker) checkURLs(cfg *config.Config) {
	c.ok("PUBLIC_URL", "%s", cfg.PublicURL)
	for _, f := range cfg.Flows {
		c.ok("callback "+string(f), "%s (register it at Twitter exactly like this)", cfg.CallbackURL(f))
	}
}

// checkStore connects to the store, without writing, and checks its indexes.
func (c *checker) checkStore(ctx context.Context, cfg *config.Config) {
	uri, what := cfg.MongoURI, "MONGODB_URI"
	if uri == "" {
		what = "embedded store in " + filepath.Join(cfg.DataDir, "db")
		// IDIndexInterval -1: a check leaves the SQLite files as they are.
		srv, err := embedded.Start(ctx, embedded.Options{Dir: filepath.Join(cfg.DataDir, "db"), Logger: slog.New(slog.DiscardHandler), IDIndexInterval: -1})
		if err != nil {
			c.fail("store", fmt.Sprintf("cannot start the %s: %v", what, err), "check that DATA_DIR is writable")
			return
		}
		defer srv.Close()
		uri = srv.URI()
	}
	store, err := models.Open(ctx, models.Options{URI: uri, Database: cfg.MongoDatabase, Timeout: checkStoreTimeout, SkipIndexes: true})
	if err != nil {
		c.fail("store", fmt.Sprintf("cannot reach the %s within %s", what, checkStoreTimeout),
			"check the host, port, replicaSet name, credentials and that the database is running")
		return
	}
	defer store.Close(context.WithoutCancel(ctx))
	c.ok("store", "the %s answers (database %s)", what, cfg.MongoDatabase)
	missing, err := store.CheckIndexes(ctx)
	switch {
	case err != nil:
		c.fail("store indexes", "cannot list indexes", "the database user needs the listIndexes action")
	case len(missing) > 0:
		c.fail("store indexes", "missing: "+strings.Join(missing, "; "),
			"the server creates them at start-up: start it once, and give its database user the createIndex action")
	default:
		c.ok("store indexes", "in place")
	}
}

// checkTwitter checks the keys of every configured flow against Twitter.
func (c *checker) checkTwitter(ctx context.Context, cfg *config.Config) {
	if cfg.DevProvider {
		return
	}
	client := &http.Client{
		Timeout:       cfg.Twitter.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.HasFlow(config.OAuth1) {
		c.checkOAuth1(cfg, client)
	}
	if cfg.HasFlow(config.OAuth2) {
		c.checkOAuth2(ctx, cfg, client)
	}
}

var oauth1StatusErr = regexp.MustCompile(`(?s)^oauth1: invalid status ([0-9]{3}): (.*)$`)

// checkOAuth1 asks for a request token with the callback URL: the signed
// call a login starts with.
func (c *checker) checkOAuth1(cfg *config.Config, client *http.Client) {
	const name = "twitter oauth1"
	cb := cfg.CallbackURL(config.OAuth1)
	conf := &oauth1.Config{
		ConsumerKey:    cfg.Twitter.ConsumerKey,
		ConsumerSecret: cfg.Twitter.ConsumerSecret,
		CallbackURL:    cb,
		Endpoint:       oauth1.Endpoint{RequestTokenURL: cfg.Twitter.APIBase + "/oauth/request_token"},
		HTTPClient:     client,
	}
	_, _, err := conf.RequestToken()
	if err == nil {
		c.ok(name, "POST /oauth/request_token accepted the consumer key and the callback URL")
		return
	}
	if strings.Contains(err.Error(), "oauth_callback_confirmed") {
		c.fail(name, "Twitter did not confirm the callback URL", "register "+cb+" as a callback URL of the app, exactly")
		return
	}
	m := oauth1StatusErr.FindStringSubmatch(err.Error())
	if m == nil {
		c.fail(name, "cannot reach "+cfg.Twitter.APIBase+": "+networkCause(err), "check TWITTER_API_BASE, DNS and any proxy or firewall")
		return
	}
	status, _ := strconv.Atoi(m[1])
	code := v1ErrorCode(m[2])
	msg := fmt.Sprintf("POST /oauth/request_token answered %d", status)
	if code != 0 {
		msg += fmt.Sprintf(" (code %d)", code)
	}
	c.fail(name, msg, oauth1Hint(status, code, cb))
}

// oauth1Hint explains the usual causes of a refused request token.
func oauth1Hint(status, code int, cb string) string {
	switch {
	case code == 135:
		return "this machine's clock is off by more than a few minutes, and OAuth 1.0a signatures carry a timestamp: sync it with NTP"
	case code == 415 || status == http.StatusForbidden:
		return "the callback URL is not registered: add " + cb + " to the app's callback URLs, byte for byte"
	case code == 32 || status == http.StatusUnauthorized:
		return "wrong TWITTER_CONSUMER_KEY or TWITTER_CONSUMER_SECRET: use the API Key and Secret (not the OAuth 2.0 Client ID or a Bearer token); regenerating them invalidates the old pair"
	case code == 215 || status == http.StatusBadRequest:
		return "Twitter could not read the signature: check that TWITTER_API_BASE is the API host and the keys have no stray spaces"
	case code == 88 || status == http.StatusTooManyRequests:
		return "rate limited: try again in 15 minutes"
	case status >= 500:
		return "Twitter is having trouble: try again later"
	}
	return "see Twitter's answer in the developer portal"
}

// v1ErrorCode reads the first code of a v1.1 error body, or 0.
func v1ErrorCode(body string) int {
	var e struct {
		Errors []struct {
			Code int `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &e) != nil || len(e.Errors) == 0 {
		return 0
	}
	return e.Errors[0].Code
}

// checkOAuth2 sends the client credentials to the token endpoint with a
// made-up code: no user is involved. Twitter checks the client first, so
// a complaint about the code means the credentials were accepted.
func (c *checker) checkOAuth2(ctx context.Context, cfg *config.Config, client *http.Client) {
	const name = "twitter oauth2"
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {"server-check-not-a-real-code"},
		"redirect_uri":  {cfg.CallbackURL(config.OAuth2)},
		"code_verifier": {"server-check-" + strings.Repeat("0", 43)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Twitter.APIBase+"/2/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		c.fail(name, "bad TWITTER_API_BASE", "")
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cfg.Twitter.ClientID), url.QueryEscape(cfg.Twitter.ClientSecret))
	resp, err := client.Do(req)
	if err != nil {
		c.fail(name, "cannot reach "+cfg.Twitter.APIBase+": "+networkCause(err), "check TWITTER_API_BASE, DNS and any proxy or firewall")
		return
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	msg := fmt.Sprintf("POST /2/oauth2/token answered %d", resp.StatusCode)
	if body.Error != "" {
		msg += " " + body.Error
	}
	switch {
	case body.Error == "unauthorized_client" || body.Error == "invalid_client" || resp.StatusCode == http.StatusUnauthorized:
		c.fail(name, msg, "wrong TWITTER_CLIENT_ID or TWITTER_CLIENT_SECRET, or the wrong app type: use the OAuth 2.0 Client ID and Client Secret "+
			"(not the API Key), of an app of type Web App or Automated App (confidential); Native and Single page apps are public clients and have no secret")
	case resp.StatusCode == http.StatusBadRequest && (body.Error == "invalid_request" || body.Error == "invalid_grant"):
		c.ok(name, "the token endpoint accepted the client credentials (and refused only the made-up code)")
	case resp.StatusCode == http.StatusTooManyRequests:
		c.fail(name, msg, "rate limited: try again in 15 minutes")
	case resp.StatusCode >= 500:
		c.fail(name, msg, "Twitter is having trouble: try again later")
	default:
		c.fail(name, msg, "check that OAuth 2.0 is turned on in the app's User authentication settings and TWITTER_API_BASE is the API host")
	}
}

// networkCause is the cause of a failed request without its URL.
func networkCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
