package twitter_test

import (
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/twitter"
)

// TestConfigFrom: the app's settings become the client's, with the
// callback URLs under PUBLIC_URL and, by default, a client that follows
// no redirect and gives up after TWITTER_TIMEOUT.
func TestConfigFrom(t *testing.T) {
	env := map[string]string{
		"PUBLIC_URL": "https://login.example.com", "SESSION_SECRET": "RUPhP0cyowpm9Lyf/A4Xth8UDFrrrQu/GC7oQlXaIMw=",
		"TOKEN_ENCRYPTION_KEYS": "k1:V6T7TrylwSjrBaeWzlOVKnG5zF6UwU+7KbmVkHrukvo=",
		"TWITTER_CLIENT_ID":     "client-id", "TWITTER_CLIENT_SECRET": "client-secret-0123456789",
		"TWITTER_CONSUMER_KEY": "consumer-key", "TWITTER_CONSUMER_SECRET": "consumer-secret-0123456789",
		"TWITTER_TIMEOUT": "7s", "TWITTER_OFFLINE_ACCESS": "true",
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, false)
	if err != nil {
		t.Fatal(err)
	}
	c := twitter.ConfigFrom(cfg, nil)
	for _, f := range []struct{ name, got, want string }{
		{"APIBase", c.APIBase, "https://api.x.com"},
		{"AuthorizeBase", c.AuthorizeBase, "https://x.com"},
		{"ClientID", c.ClientID, "client-id"},
		{"ClientSecret", c.ClientSecret, "client-secret-0123456789"},
		{"ConsumerKey", c.ConsumerKey, "consumer-key"},
		{"ConsumerSecret", c.ConsumerSecret, "consumer-secret-0123456789"},
		{"OAuth1CallbackURL", c.OAuth1CallbackURL, "https://login.example.com/auth/oauth1/callback"},
		{"OAuth2RedirectURL", c.OAuth2RedirectURL, "https://login.example.com/auth/oauth2/callback"},
	} {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	if !c.OfflineAccess {
		t.Error("OfflineAccess not carried over")
	}
	if c.HTTPClient == nil || c.HTTPClient.Timeout != 7*time.Second || c.HTTPClient.CheckRedirect == nil {
		t.Errorf("HTTPClient = %+v, want a 7s client that follows no redirect", c.HTTPClient)
	}
}
