package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/twitter"
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
		if keys, err := loadKeyFiles(cfg, time.Now()); err != nil {
			c.fail("TOKEN_KEY_FILES", err.Error(), "each key needs its certificate chain, leaf first, at the same position in TOKEN_CERT_FILES, leading to TOKEN_ROOT_FILE if set")
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
	c.checkIndexes(ctx, store)
}

// checkIndexes reports the indexes the server needs: missing ones are fine
// before the first start, which creates them, if the user may.
func (c *checker) checkIndexes(ctx context.Context, store *models.Store) {
	missing, err := store.CheckIndexes(ctx)
	if err != nil {
		c.fail("store indexes", "cannot list indexes", "the database user needs the listIndexes action")
		return
	}
	if len(missing) == 0 {
		c.ok("store indexes", "in place")
		return
	}
	if can, err := store.CanCreateIndexes(ctx); err == nil && can {
		c.ok("store indexes", "missing, will be created at start-up: %s", strings.Join(missing, "; "))
		return
	}
	c.fail("store indexes", "missing: "+strings.Join(missing, "; "),
		"the database user cannot create them: give it the createIndex action (readWrite has it), or create them as an administrator")
}

// checkTwitter checks the keys of every configured flow against Twitter.
func (c *checker) checkTwitter(ctx context.Context, cfg *config.Config) {
	if cfg.DevProvider {
		return
	}
	client := twitter.New(twitter.ConfigFrom(cfg, nil))
	if cfg.HasFlow(config.OAuth1) {
		c.checkOAuth1(ctx, cfg, client)
	}
	if cfg.HasFlow(config.OAuth2) {
		c.checkOAuth2(ctx, cfg, client)
	}
}

// checkOAuth1 asks for a request token with the callback URL: the signed
// call a login starts with.
func (c *checker) checkOAuth1(ctx context.Context, cfg *config.Config, client *twitter.Client) {
	const name = "twitter oauth1"
	cb := cfg.CallbackURL(config.OAuth1)
	_, _, err := client.RequestToken(ctx)
	var te *twitter.TokenError
	switch {
	case err == nil:
		c.ok(name, "POST /oauth/request_token accepted the consumer key and the callback URL")
	case errors.Is(err, twitter.ErrCallbackNotConfirmed):
		c.fail(name, "Twitter did not confirm the callback URL", "register "+cb+" as a callback URL of the app, exactly")
	case errors.As(err, &te):
		msg := fmt.Sprintf("POST /oauth/request_token answered %d", te.StatusCode)
		if te.Code != 0 {
			msg += fmt.Sprintf(" (code %d)", te.Code)
		}
		c.fail(name, msg, oauth1Hint(te.StatusCode, te.Code, cb))
	default:
		c.fail(name, "cannot reach "+cfg.Twitter.APIBase+": "+networkCause(err), "check TWITTER_API_BASE, DNS and any proxy or firewall")
	}
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

// checkOAuth2 sends the client credentials to the token endpoint with a
// made-up code: no user is involved. Twitter checks the client first, so
// a complaint about the code means the credentials were accepted.
func (c *checker) checkOAuth2(ctx context.Context, cfg *config.Config, client *twitter.Client) {
	const name = "twitter oauth2"
	_, err := client.Exchange(ctx, "server-check-not-a-real-code", "server-check-"+strings.Repeat("0", 43))
	var te *twitter.TokenError
	var ne *twitter.NetError
	switch {
	case errors.As(err, &ne):
		c.fail(name, "cannot reach "+cfg.Twitter.APIBase+": "+networkCause(err), "check TWITTER_API_BASE, DNS and any proxy or firewall")
		return
	case err != nil && !errors.As(err, &te):
		// An answer that is neither a token nor an OAuth error.
		c.fail(name, err.Error(), oauth2Hint)
		return
	case err == nil:
		c.fail(name, "POST /2/oauth2/token accepted a made-up code", oauth2Hint)
		return
	}
	msg := fmt.Sprintf("POST /2/oauth2/token answered %d", te.StatusCode)
	if te.ErrorCode != "" {
		msg += " " + te.ErrorCode
	}
	switch {
	case te.ErrorCode == "unauthorized_client" || te.ErrorCode == "invalid_client" || te.StatusCode == http.StatusUnauthorized:
		c.fail(name, msg, "wrong TWITTER_CLIENT_ID or TWITTER_CLIENT_SECRET, or the wrong app type: use the OAuth 2.0 Client ID and Client Secret "+
			"(not the API Key), of an app of type Web App or Automated App (confidential); Native and Single page apps are public clients and have no secret")
	case te.StatusCode == http.StatusBadRequest && te.GrantRefused():
		c.ok(name, "the token endpoint accepted the client credentials (and refused only the made-up code)")
	case te.StatusCode == http.StatusTooManyRequests:
		c.fail(name, msg, "rate limited: try again in 15 minutes")
	case te.StatusCode >= 500:
		c.fail(name, msg, "Twitter is having trouble: try again later")
	default:
		c.fail(name, msg, oauth2Hint)
	}
}

// oauth2Hint is the hint for a token endpoint that answers unexpectedly.
const oauth2Hint = "check that OAuth 2.0 is turned on in the app's User authentication settings and TWITTER_API_BASE is the API host"

// networkCause is the cause of a failed request without its URL.
func networkCause(err error) string {
	var ne *twitter.NetError
	if errors.As(err, &ne) {
		err = ne.Err
	}
	return err.Error()
}
