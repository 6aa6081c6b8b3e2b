package config_test

import (
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
)

const secret = "0123456789abcdef0123456789abcdef" // 32 bytes

// encKey and encKey2 are base64 of 32 random bytes each (production
// refuses keys that do not look random).
const (
	encKey  = "V6T7TrylwSjrBaeWzlOVKnG5zF6UwU+7KbmVkHrukvo="
	encKey2 = "CHmkMYfAWSLoYyFkWJXjLbiSVGG6miQgkBQFGYd5w10="
)

func TestDevDefaults(t *testing.T) {
	c, err := load(t, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Addr", c.Addr, "localhost:8080"},
		{"PublicURL", c.PublicURL.String(), "http://localhost:8080"},
		{"MongoURI", c.MongoURI, ""},
		{"MongoDatabase", c.MongoDatabase, "twitterlogin"},
		{"DataDir", c.DataDir, "data"},
		{"SessionLifetime", c.SessionLifetime, 12 * time.Hour},
		{"SessionCacheTTL", c.SessionCacheTTL, 5 * time.Second},
		{"DevProvider", c.DevProvider, true},
		{"Flow", c.Flow, config.OAuth2},
		{"HasFlow(oauth1)", c.HasFlow(config.OAuth1), true},
		{"CallbackURL(oauth1)", c.CallbackURL(config.OAuth1), "http://localhost:8080/auth/oauth1/callback"},
		{"SessionSecret", len(c.SessionSecret), config.MinSecretLen},
		{"GeneratedSessionSecret", c.GeneratedSessionSecret, true},
		{"TokenEncryptionKeys", len(c.TokenEncryptionKeys), 1},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestProduction(t *testing.T) {
	c, err := load(t, false, map[string]string{
		"PUBLIC_URL":            "https://login.example.com/",
		"SESSION_SECRET":        secret,
		"TWITTER_CLIENT_ID":     "id",
		"TWITTER_CLIENT_SECRET": "s",
		"MONGODB_URI":           "mongodb://db/?replicaSet=rs0",
		"TOKEN_ENCRYPTION_KEYS": "new:" + encKey2 + ", old:" + encKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TokenEncryptionKeys) != 2 || c.TokenEncryptionKeys[0].ID != "new" || len(c.TokenEncryptionKeys[1].Key) != 32 {
		t.Errorf("TokenEncryptionKeys = %d keys, first %q", len(c.TokenEncryptionKeys), c.TokenEncryptionKeys[0].ID)
	}
	if c.Addr != ":8080" || c.DevProvider || c.Flow != config.OAuth2 || c.HasFlow(config.OAuth1) {
		t.Errorf("got Addr %q DevProvider %v Flow %q Flows %v", c.Addr, c.DevProvider, c.Flow, c.Flows)
	}
	if got, want := c.CallbackURL(config.OAuth2), "https://login.example.com/auth/oauth2/callback"; got != want {
		t.Errorf("CallbackURL = %q, want %q", got, want)
	}
	if c.Twitter.APIBase != "https://api.x.com" || c.Twitter.AuthorizeBase != "https://x.com" {
		t.Errorf("Twitter bases = %q, %q", c.Twitter.APIBase, c.Twitter.AuthorizeBase)
	}
}

// TestRefusals lists configurations that must not start, and the text the
// error must contain so an operator knows what to fix.
func TestRefusals(t *testing.T) {
	prod := func(over map[string]string) map[string]string {
		env := map[string]string{
			"PUBLIC_URL":              "https://login.example.com",
			"SESSION_SECRET":          secret,
			"TWITTER_CONSUMER_KEY":    "k",
			"TWITTER_CONSUMER_SECRET": "s",
			"TOKEN_ENCRYPTION_KEYS":   "k1:" + encKey,
		}
		for k, v := range over {
			env[k] = v
		}
		return env
	}
	tests := []struct {
		name string
		dev  bool
		env  map[string]string
		want string
	}{
		{"no secret in production", false, prod(map[string]string{"SESSION_SECRET": ""}), "SESSION_SECRET is required"},
		{"31-byte secret", false, prod(map[string]string{"SESSION_SECRET": secret[:31]}), "SESSION_SECRET must be at least 32 bytes, but is 31"},
		{"short secret in dev too", true, map[string]string{"SESSION_SECRET": "short"}, "SESSION_SECRET must be at least 32"},
		{"no token encryption key", false, prod(map[string]string{"TOKEN_ENCRYPTION_KEYS": ""}), "TOKEN_ENCRYPTION_KEYS is required outside dev mode"},
		{"token key not 32 bytes", false, prod(map[string]string{"TOKEN_ENCRYPTION_KEYS": "k1:c2hvcnQ="}), "TOKEN_ENCRYPTION_KEYS entry 1 (k1) must be the standard base64 of exactly 32 bytes"},
		{"token key without id", false, prod(map[string]string{"TOKEN_ENCRYPTION_KEYS": encKey}), "TOKEN_ENCRYPTION_KEYS entry 1 needs an id"},
		{"token key id repeated", false, prod(map[string]string{"TOKEN_ENCRYPTION_KEYS": "k1:" + encKey + ",k1:" + encKey2}), "entry 2 (k1) repeats an id or a key"},
		{"placeholder secret", false, prod(map[string]string{"SESSION_SECRET": "ci-placeholder-not-a-real-secret-0123"}), "SESSION_SECRET does not look random"},
		{"low-entropy secret", false, prod(map[string]string{"SESSION_SECRET": strings.Repeat("ab", 20)}), "SESSION_SECRET does not look random"},
		{"short old secret", false, prod(map[string]string{"SESSION_SECRETS_OLD": "short"}), "SESSION_SECRETS_OLD entry 1 must be at least 32 bytes"},
		{"old secret equals the current", false, prod(map[string]string{"SESSION_SECRETS_OLD": secret}), "SESSION_SECRETS_OLD entry 1 is the same as SESSION_SECRET"},
		{"no public URL", false, prod(map[string]string{"PUBLIC_URL": ""}), "PUBLIC_URL is required"},
		{"http public URL in production", false, prod(map[string]string{"PUBLIC_URL": "http://login.example.com"}), "must use https"},
		{"http public URL off loopback in dev", true, map[string]string{"PUBLIC_URL": "http://192.0.2.1:8080"}, "http only on localhost"},
		{"public URL with query", false, prod(map[string]string{"PUBLIC_URL": "https://a.example/?x=1"}), "no user info, query or fragment"},
		{"no Twitter keys", false, prod(map[string]string{"TWITTER_CONSUMER_KEY": "", "TWITTER_CONSUMER_SECRET": ""}), "no Twitter keys"},
		{"half a key pair", false, prod(map[string]string{"TWITTER_CLIENT_ID": "id"}), "TWITTER_CLIENT_ID and TWITTER_CLIENT_SECRET must be set together"},
		{"flow without keys", false, prod(map[string]string{"TWITTER_FLOW": "oauth2"}), "TWITTER_FLOW is oauth2 but that flow has no keys"},
		{"unknown flow", false, prod(map[string]string{"TWITTER_FLOW": "oauth3"}), "TWITTER_FLOW must be oauth1 or oauth2"},
		{"http API base in production", false, prod(map[string]string{"TWITTER_API_BASE": "http://api.x.com"}), "TWITTER_API_BASE must use https"},
		{"lifetime too long", false, prod(map[string]string{"SESSION_LIFETIME": "720h"}), "SESSION_LIFETIME must be"},
		{"lifetime not a duration", false, prod(map[string]string{"SESSION_LIFETIME": "forever"}), "SESSION_LIFETIME must be"},
		{"cache TTL too long", false, prod(map[string]string{"SESSION_CACHE_TTL": "5m"}), "SESSION_CACHE_TTL must be"},
		{"negative cache TTL", false, prod(map[string]string{"SESSION_CACHE_TTL": "-1s"}), "SESSION_CACHE_TTL must be"},
		{"bad timeout", false, prod(map[string]string{"TWITTER_TIMEOUT": "0s"}), "TWITTER_TIMEOUT must be"},
		{"bad address", false, prod(map[string]string{"ADDR": "8080"}), "ADDR must be host:port"},
		{"bad log level", false, prod(map[string]string{"LOG_LEVEL": "loud"}), "LOG_LEVEL must be"},
		{"APP_ENV contradicts -dev", true, map[string]string{"APP_ENV": "production"}, "contradicts the -dev flag"},
		{"unknown APP_ENV", false, prod(map[string]string{"APP_ENV": "staging"}), "APP_ENV must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.dev, tt.env)
			if err == nil {
				t.Fatalf("Load succeeded (%+v); want an error containing %q", c, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q; want it to contain %q", err, tt.want)
			}
			if s := tt.env["SESSION_SECRET"]; s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("error %q reveals the session secret", err)
			}
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := load(t, false, map[string]string{"SESSION_LIFETIME": "x", "LOG_LEVEL": "x"})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{"PUBLIC_URL", "SESSION_SECRET", "SESSION_LIFETIME", "LOG_LEVEL", "no Twitter keys"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestAppEnvDevelopmentIsDev(t *testing.T) {
	c, err := load(t, false, map[string]string{"APP_ENV": "development"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Dev || !c.DevProvider {
		t.Errorf("Dev = %v, DevProvider = %v; want both true", c.Dev, c.DevProvider)
	}
}

// TestLoginRateLimitDefaults: dev mode allows automated browser suites many
// logins a minute; production keeps the strict default; an explicit value wins.
func TestLoginRateLimitDefaults(t *testing.T) {
	prodEnv := map[string]string{
		"PUBLIC_URL": "https://login.example.com", "SESSION_SECRET": secret, "TOKEN_ENCRYPTION_KEYS": "k1:" + encKey,
		"TWITTER_CLIENT_ID": "id", "TWITTER_CLIENT_SECRET": "s",
	}
	tests := []struct {
		name string
		dev  bool
		env  map[string]string
		want string
	}{
		{"dev default", true, nil, config.DevRateLimitLogin},
		{"production default", false, prodEnv, config.DefaultRateLimitLogin},
		{"explicit value in dev", true, map[string]string{"RATE_LIMIT_LOGIN": "20/m,10"}, "20/m,10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.dev, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.RateLimits.Login.String(); got != tc.want {
				t.Errorf("Login limit = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestDevPublicURLFollowsAddr: in dev mode an unset PUBLIC_URL follows
// ADDR's port, so callbacks point at the port the app listens on.
func TestDevPublicURLFollowsAddr(t *testing.T) {
	prodEnv := map[string]string{
		"ADDR": ":9999", "PUBLIC_URL": "https://login.example.com", "SESSION_SECRET": secret,
		"TOKEN_ENCRYPTION_KEYS": "k1:" + encKey, "TWITTER_CLIENT_ID": "id", "TWITTER_CLIENT_SECRET": "s",
	}
	tests := []struct {
		name string
		dev  bool
		env  map[string]string
		want string
	}{
		{"dev default", true, nil, "http://localhost:8080"},
		{"dev ADDR port only", true, map[string]string{"ADDR": ":9999"}, "http://localhost:9999"},
		{"dev ADDR loopback IP", true, map[string]string{"ADDR": "127.0.0.1:9998"}, "http://localhost:9998"},
		{"dev ADDR localhost", true, map[string]string{"ADDR": "localhost:9997"}, "http://localhost:9997"},
		{"dev PUBLIC_URL set wins", true, map[string]string{"ADDR": ":9999", "PUBLIC_URL": "http://127.0.0.1:7000"}, "http://127.0.0.1:7000"},
		{"production unchanged", false, prodEnv, "https://login.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.dev, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.PublicURL.String(); got != tc.want {
				t.Errorf("PublicURL = %s, want %s", got, tc.want)
			}
		})
	}
	// Production still requires PUBLIC_URL, whatever ADDR is.
	if _, err := load(t, false, map[string]string{"ADDR": ":9999"}); err == nil || !strings.Contains(err.Error(), "PUBLIC_URL is required") {
		t.Errorf("production without PUBLIC_URL: %v", err)
	}
}

// TestWeakKeys: outside dev mode, old session secrets and token encryption
// keys must look random like SESSION_SECRET; errors name the position only.
func TestWeakKeys(t *testing.T) {
	zeroKey := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	lowOld := strings.Repeat("ab", 20)
	tests := []struct {
		name string
		dev  bool
		over map[string]string
		want string // "" means accepted
	}{
		{"zero token key", false, map[string]string{"TOKEN_ENCRYPTION_KEYS": "k1:" + encKey + ",k0:" + zeroKey}, "TOKEN_ENCRYPTION_KEYS entry 2 (k0) does not look random"},
		{"low-entropy old secret", false, map[string]string{"SESSION_SECRETS_OLD": secret + "x," + lowOld}, "SESSION_SECRETS_OLD entry 2 does not look random"},
		{"placeholder old secret", false, map[string]string{"SESSION_SECRETS_OLD": "ci-placeholder-not-a-real-secret-0123"}, "SESSION_SECRETS_OLD entry 1 does not look random"},
		{"good keys", false, map[string]string{"TOKEN_ENCRYPTION_KEYS": "k2:" + encKey2 + ",k1:" + encKey, "SESSION_SECRETS_OLD": "RUPhP0cyowpm9Lyf/A4Xth8UDFrrrQu/GC7oQlXaIMw="}, ""},
		{"dev mode unchanged", true, map[string]string{"TOKEN_ENCRYPTION_KEYS": "k0:" + zeroKey, "SESSION_SECRETS_OLD": lowOld}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{
				"PUBLIC_URL": "https://login.example.com", "SESSION_SECRET": secret,
				"TWITTER_CONSUMER_KEY": "k", "TWITTER_CONSUMER_SECRET": "s", "TOKEN_ENCRYPTION_KEYS": "k1:" + encKey,
			}
			if tt.dev {
				env = map[string]string{}
			}
			for k, v := range tt.over {
				env[k] = v
			}
			_, err := load(t, tt.dev, env)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v; want it to contain %q", err, tt.want)
			}
			for _, v := range []string{zeroKey, lowOld} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error %q reveals a key", err)
				}
			}
		})
	}
}
