// Package config reads the application's settings from environment
// variables, applies the defaults for development, and validates everything
// at start-up so that a misconfigured instance refuses to start instead of
// failing at first use.
package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Flow names a Twitter OAuth flow.
type Flow string

// The Twitter OAuth flows the app can use.
const (
	OAuth1 Flow = "oauth1" // OAuth 1.0a "Sign in with Twitter"
	OAuth2 Flow = "oauth2" // OAuth 2.0 Authorization Code with PKCE
)

// MinSecretLen is the shortest session secret accepted outside dev mode:
// HS256 needs a key at least as long as its hash output (RFC 7518 §3.2).
const MinSecretLen = 32

// MaxSessionLifetime caps SESSION_LIFETIME: there is no silent renewal, so a
// session lives exactly this long at most.
const MaxSessionLifetime = 7 * 24 * time.Hour

// NamedKey is a 32-byte key with the id stored beside what it encrypts.
type NamedKey struct {
	ID  string
	Key []byte
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// MaxSessionCacheTTL caps SESSION_CACHE_TTL: it bounds how long another
// instance may keep accepting a session that was logged out.
const MaxSessionCacheTTL = time.Minute

// Config is the validated configuration of one app instance.
type Config struct {
	// Dev turns on development defaults: embedded store, in-process dev
	// Twitter provider when no keys are set, a generated session secret kept
	// in DataDir, and plain-http URLs on loopback.
	Dev bool

	Addr      string   // listen address
	PublicURL *url.URL // the URL browsers use; callbacks are derived from it

	MongoURI      string // empty: run the embedded store in DataDir
	MongoDatabase string
	DataDir       string // embedded store data and dev keys

	// SessionSecret signs session cookies and login-state cookies (separate
	// keys are derived from it). Dev mode without SESSION_SECRET generates
	// one and keeps it in DataDir (DevSessionSecretFile).
	SessionSecret []byte
	// GeneratedSessionSecret is true when SessionSecret is dev mode's
	// generated one.
	GeneratedSessionSecret bool
	// OldSessionSecrets still verify session cookies signed before a
	// rotation (SESSION_SECRETS_OLD); only SessionSecret signs.
	OldSessionSecrets [][]byte
	SessionLifetime   time.Duration
	// TokenEncryptionKeys encrypt Twitter's tokens at rest
	// (TOKEN_ENCRYPTION_KEYS): the first encrypts, all decrypt. Required
	// outside dev mode; dev mode generates one, id "dev", and keeps it in
	// DataDir (DevTokenKeyFile).
	TokenEncryptionKeys []NamedKey

	// ShutdownDrain is how long a stopping instance keeps serving, with
	// /readyz failing and keep-alives off, before it closes its listener.
	ShutdownDrain time.Duration
	// SessionCacheTTL is how long an instance trusts its memory that a
	// session is live. Logout on the same instance takes effect at once;
	// on another instance, at once where the store has change streams and
	// within this bound where it has not. Zero disables the cache.
	SessionCacheTTL time.Duration

	// Flow is the flow the "Sign in with Twitter" button uses; Flows lists
	// every flow that has credentials and so has login routes.
	Flow  Flow
	Flows []Flow

	Twitter Twitter

	// DevProvider is true when the app runs the dev Twitter provider
	// in-process (dev mode without Twitter keys); Twitter's base URLs are
	// then filled in once the provider is listening.
	DevProvider     bool
	DevProviderAddr string

	LogLevel string // debug, info, warn, error

	// Tokens configures the service tokens issued at POST /token.
	Tokens Tokens

	// MetricsAddr is the separate listener for /metrics (METRICS_ADDR);
	// empty: metrics are not served.
	MetricsAddr string
	// TrustedProxies are the addresses (IPs or CIDRs) whose
	// X-Forwarded-For is believed; empty: client IPs come from the
	// connection.
	TrustedProxies []string
	// RateLimits are the per-IP and per-user request limits.
	RateLimits RateLimits
}

// Twitter holds the provider endpoints and app credentials.
type Twitter struct {
	// APIBase serves /oauth/*, /1.1/* and /2/* (https://api.x.com).
	APIBase string
	// AuthorizeBase serves the browser's OAuth 2.0 consent page,
	// /i/oauth2/authorize (https://x.com).
	AuthorizeBase string

	ConsumerKey    string // OAuth 1.0a
	ConsumerSecret string
	ClientID       string // OAuth 2.0
	ClientSecret   string

	Timeout time.Duration // every call to Twitter

	// OfflineAccess (TWITTER_OFFLINE_ACCESS) adds the offline.access scope
	// to OAuth 2.0 logins, so Twitter issues a refresh token that the app
	// keeps and uses when the 2-hour access token has expired.
	OfflineAccess bool
}

// CallbackURL returns the absolute callback URL registered at Twitter for flow.
func (c *Config) CallbackURL(f Flow) string {
	return c.PublicURL.JoinPath("auth", string(f), "callback").String()
}

// HasFlow reports whether flow f is configured.
func (c *Config) HasFlow(f Flow) bool {
	for _, g := range c.Flows {
		if g == f {
			return true
		}
	}
	return false
}

// Load reads the configuration through getenv (os.Getenv in production,
// a map in tests). dev is the -dev flag. It returns one error naming every
// invalid variable, its rule and (for non-secrets) its value. In dev mode
// it fills in the secrets left unset from files in DataDir, generating
// them on first use, and, given [WithDevProvider], points the Twitter
// settings at the dev provider when no keys are set.
func Load(getenv func(string) string, dev bool, opts ...LoadOption) (*Config, error) {
	env := withDefaults(getenv)
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	dev = loadAppEnv(env, dev, bad)
	c := &Config{
		Dev:             dev,
		MongoURI:        env("MONGODB_URI", ""),
		MongoDatabase:   env("MONGODB_DATABASE", "twitterlogin"),
		DataDir:         env("DATA_DIR", "data"),
		SessionSecret:   []byte(env("SESSION_SECRET", "")),
		DevProviderAddr: env("DEV_PROVIDER_ADDR", defaultDevProviderAddr),
		LogLevel:        env("LOG_LEVEL", "info"),
		Twitter: Twitter{
			APIBase:        strings.TrimRight(env("TWITTER_API_BASE", "https://api.x.com"), "/"),
			AuthorizeBase:  strings.TrimRight(env("TWITTER_AUTHORIZE_BASE", "https://x.com"), "/"),
			ConsumerKey:    env("TWITTER_CONSUMER_KEY", ""),
			ConsumerSecret: env("TWITTER_CONSUMER_SECRET", ""),
			ClientID:       env("TWITTER_CLIENT_ID", ""),
			ClientSecret:   env("TWITTER_CLIENT_SECRET", ""),
		},
	}
	c.loadListen(env, bad)
	c.loadDurations(env, bad)
	c.loadSecrets(env, bad)

	switch v := env("TWITTER_OFFLINE_ACCESS", "false"); v {
	case "true", "1":
		c.Twitter.OfflineAccess = true
	case "false", "0":
	default:
		bad("TWITTER_OFFLINE_ACCESS must be true or false, but is %q", v)
	}
	problems = append(problems, c.loadFlows(env)...)
	problems = append(problems, c.loadTokens(env)...)
	problems = append(problems, c.loadOps(env)...)

	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL must be debug, info, warn or error, but is %q", c.LogLevel)
	}

	if len(problems) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	if c.Dev {
		if err := c.loadDevSecrets(); err != nil {
			return nil, err
		}
	}
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	if c.DevProvider && o.devProvider != "" {
		c.useDevProvider(o.devProvider)
	}
	return c, nil
}

// IsDev says whether [Load] would run in dev mode: the -dev flag, or
// APP_ENV=development. Programs that must act before loading (binding the
// dev provider's port) ask it.
func IsDev(getenv func(string) string, dev bool) bool {
	return loadAppEnv(withDefaults(getenv), dev, func(string, ...any) {})
}

// withDefaults reads variables through getenv, trimmed, with def for one
// that is unset or blank: the rule for every variable of every program.
func withDefaults(getenv func(string) string) func(key, def string) string {
	return func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
}

// loadAppEnv applies APP_ENV to the -dev flag: development turns dev mode
// on, production only checks that the flag does not contradict it.
func loadAppEnv(env func(key, def string) string, dev bool, bad func(string, ...any)) bool {
	switch v := env("APP_ENV", ""); v {
	case "":
	case "dev", "development":
		dev = true
	case "prod", "production":
		if dev {
			bad("APP_ENV=%s contradicts the -dev flag", v)
		}
	default:
		bad("APP_ENV must be development or production, but is %q", v)
	}
	return dev
}

// loadListen reads and checks ADDR and PUBLIC_URL.
func (c *Config) loadListen(env func(key, def string) string, bad func(string, ...any)) {
	// Dev binds to loopback so a laptop never serves the dev provider or
	// a generated secret to its network.
	defAddr := ":8080"
	if c.Dev {
		defAddr = "localhost:8080"
	}
	c.Addr = env("ADDR", defAddr)
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("ADDR must be host:port, but is %q", c.Addr)
	}

	raw := env("PUBLIC_URL", devPublicURL(c.Dev, c.Addr))
	if raw == "" {
		bad("PUBLIC_URL is required outside dev mode (for example https://login.example.com)")
		return
	}
	u, err := parseBaseURL(raw)
	if err != nil {
		bad("PUBLIC_URL %v", err)
		return
	}
	c.PublicURL = u
	switch {
	case !c.Dev && u.Scheme != "https":
		bad("PUBLIC_URL must use https outside dev mode, but is %q", raw)
	case u.Scheme == "http" && !IsLoopback(u.Hostname()):
		// Browsers drop Secure cookies on plain http except on loopback,
		// so sign-in would fail in a way that is hard to see.
		bad("PUBLIC_URL may use http only on localhost or a loopback address, but is %q", raw)
	}
}

// loadDurations reads and bounds SESSION_LIFETIME, SHUTDOWN_DRAIN,
// SESSION_CACHE_TTL and TWITTER_TIMEOUT.
func (c *Config) loadDurations(env func(key, def string) string, bad func(string, ...any)) {
	var err error
	if c.SessionLifetime, err = time.ParseDuration(env("SESSION_LIFETIME", "12h")); err != nil || c.SessionLifetime < time.Minute || c.SessionLifetime > MaxSessionLifetime {
		bad("SESSION_LIFETIME must be a duration between 1m and %s, but is %q", MaxSessionLifetime, env("SESSION_LIFETIME", ""))
	}
	defDrain := "5s"
	if c.Dev {
		defDrain = "250ms"
	}
	if c.ShutdownDrain, err = time.ParseDuration(env("SHUTDOWN_DRAIN", defDrain)); err != nil || c.ShutdownDrain < 0 || c.ShutdownDrain > time.Minute {
		bad("SHUTDOWN_DRAIN must be a duration between 0s and 1m, but is %q", env("SHUTDOWN_DRAIN", ""))
	}
	if c.SessionCacheTTL, err = time.ParseDuration(env("SESSION_CACHE_TTL", "5s")); err != nil || c.SessionCacheTTL < 0 || c.SessionCacheTTL > MaxSessionCacheTTL {
		bad("SESSION_CACHE_TTL must be a duration between 0s and %s, but is %q", MaxSessionCacheTTL, env("SESSION_CACHE_TTL", ""))
	}
	if c.Twitter.Timeout, err = time.ParseDuration(env("TWITTER_TIMEOUT", "10s")); err != nil || c.Twitter.Timeout <= 0 || c.Twitter.Timeout > time.Minute {
		bad("TWITTER_TIMEOUT must be a duration between 1ms and 1m, but is %q", env("TWITTER_TIMEOUT", ""))
	}
}

// loadSecrets reads SESSION_SECRETS_OLD and TOKEN_ENCRYPTION_KEYS and
// checks them and SESSION_SECRET (already read into c.SessionSecret).
// Messages never include a secret's value.
func (c *Config) loadSecrets(env func(key, def string) string, bad func(string, ...any)) {
	c.OldSessionSecrets = parseOldSecrets(env("SESSION_SECRETS_OLD", ""), c.SessionSecret, c.Dev, bad)
	c.TokenEncryptionKeys = parseNamedKeys(env("TOKEN_ENCRYPTION_KEYS", ""), c.SessionSecret, c.Dev, bad)
	if len(c.TokenEncryptionKeys) == 0 && !c.Dev {
		bad("TOKEN_ENCRYPTION_KEYS is required outside dev mode (id:base64 of 32 random bytes, e.g. k1:$(openssl rand -base64 32))")
	}
	if n := len(c.SessionSecret); n > 0 && n < MinSecretLen {
		bad("SESSION_SECRET must be at least %d bytes, but is %d bytes", MinSecretLen, n)
	} else if n == 0 && !c.Dev {
		bad("SESSION_SECRET is required outside dev mode (at least %d random bytes, e.g. `openssl rand -base64 48`)", MinSecretLen)
	} else if n > 0 && !c.Dev && !LooksRandom(c.SessionSecret) {
		bad("SESSION_SECRET does not look random (a placeholder, or too few different characters): use `openssl rand -base64 48`")
	}
}

// loadFlows decides which Twitter flows are enabled and checks their keys
// and endpoints.
func (c *Config) loadFlows(env func(key, def string) string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	t := &c.Twitter

	pair := func(flow Flow, idName, id, secretName, secret string) {
		switch {
		case id != "" && secret != "":
			c.Flows = append(c.Flows, flow)
		case id != "" || secret != "":
			bad("%s and %s must be set together", idName, secretName)
		}
	}
	pair(OAuth2, "TWITTER_CLIENT_ID", t.ClientID, "TWITTER_CLIENT_SECRET", t.ClientSecret)
	pair(OAuth1, "TWITTER_CONSUMER_KEY", t.ConsumerKey, "TWITTER_CONSUMER_SECRET", t.ConsumerSecret)

	if len(c.Flows) == 0 && len(problems) == 0 {
		if !c.Dev {
			return append(problems, "no Twitter keys: set TWITTER_CLIENT_ID and TWITTER_CLIENT_SECRET (OAuth 2.0) and/or TWITTER_CONSUMER_KEY and TWITTER_CONSUMER_SECRET (OAuth 1.0a), or run with -dev")
		}
		// Dev mode without keys: the in-process dev provider speaks both
		// flows with its own well-known credentials.
		c.DevProvider = true
		c.Flows = []Flow{OAuth2, OAuth1}
	}

	c.Flow = Flow(env("TWITTER_FLOW", ""))
	switch {
	case c.Flow == "" && len(c.Flows) > 0:
		c.Flow = c.Flows[0]
	case c.Flow == "": // unset, and no flow has keys: the problems above say why
	case c.Flow != OAuth1 && c.Flow != OAuth2:
		bad("TWITTER_FLOW must be oauth1 or oauth2, but is %q", c.Flow)
	case len(c.Flows) > 0 && !c.HasFlow(c.Flow):
		bad("TWITTER_FLOW is %s but that flow has no keys", c.Flow)
	}

	if !c.DevProvider {
		for _, b := range []struct{ name, val string }{{"TWITTER_API_BASE", t.APIBase}, {"TWITTER_AUTHORIZE_BASE", t.AuthorizeBase}} {
			u, err := parseBaseURL(b.val)
			switch {
			case err != nil:
				bad("%s %v", b.name, err)
			case !c.Dev && u.Scheme != "https":
				// Credentials travel on these calls (RFC 5849 §2.1).
				bad("%s must use https outside dev mode, but is %q", b.name, b.val)
			}
		}
	}
	return problems
}
