package twitter

import (
	"net/http"
	"time"

	"github.com/dghubble/oauth1"
	"golang.org/x/oauth2"
)

// maxBody caps what is read of an answer (x/oauth2 does the same).
const maxBody = 1 << 20

// Config is what a Client needs to know about the app and Twitter.
type Config struct {
	// APIBase is the scheme://host of the API and token endpoints, such
	// as https://api.x.com (or the dev provider's URL).
	APIBase string
	// AuthorizeBase is the scheme://host of the OAuth 2.0 consent page,
	// such as https://x.com.
	AuthorizeBase string

	// ConsumerKey and ConsumerSecret are the OAuth 1.0a API Key and Secret.
	ConsumerKey, ConsumerSecret string
	// OAuth1CallbackURL is where Twitter sends the browser back after an
	// OAuth 1.0a authentication; it must be registered with the app.
	OAuth1CallbackURL string

	// ClientID and ClientSecret are the OAuth 2.0 client credentials.
	ClientID, ClientSecret string
	// OAuth2RedirectURL is the OAuth 2.0 redirect_uri; it must be
	// registered with the app.
	OAuth2RedirectURL string
	// OfflineAccess asks for the offline.access scope, which brings a
	// refresh token with each OAuth 2.0 login.
	OfflineAccess bool

	// HTTPClient makes every call; nil means NewHTTPClient(10 * time.Second).
	HTTPClient *http.Client
}

// Client calls Twitter for both sign-in flows. Build it with New; it is
// safe for concurrent use.
type Client struct {
	apiBase string
	http    *http.Client
	oauth1  *oauth1.Config
	oauth2  *oauth2.Config
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = NewHTTPClient(10 * time.Second)
	}
	// The least Twitter needs for GET /2/users/me, and offline.access only
	// when refresh tokens are wanted.
	sc := []string{"tweet.read", "users.read"}
	if cfg.OfflineAccess {
		sc = append(sc, "offline.access")
	}
	return &Client{
		apiBase: cfg.APIBase,
		http:    hc,
		oauth1: &oauth1.Config{
			ConsumerKey:    cfg.ConsumerKey,
			ConsumerSecret: cfg.ConsumerSecret,
			CallbackURL:    cfg.OAuth1CallbackURL,
			// All three on one host: the signature covers the host, and a
			// signed POST must not be redirected elsewhere.
			Endpoint: oauth1.Endpoint{
				RequestTokenURL: cfg.APIBase + "/oauth/request_token",
				AuthorizeURL:    cfg.APIBase + "/oauth/authenticate",
				AccessTokenURL:  cfg.APIBase + "/oauth/access_token",
			},
			HTTPClient: hc,
			// Set here, not lazily by the library on first use: the config
			// is shared by concurrent requests and revocations.
			Noncer: oauth1.Base64Noncer{},
		},
		oauth2: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:  cfg.AuthorizeBase + "/i/oauth2/authorize",
				TokenURL: cfg.APIBase + "/2/oauth2/token",
				// Twitter authenticates confidential clients with Basic only;
				// auto-detect would retry a failure with the secret in the body.
				AuthStyle: oauth2.AuthStyleInHeader,
			},
			RedirectURL: cfg.OAuth2RedirectURL,
			Scopes:      sc,
		},
	}
}

// NewHTTPClient returns a client for calling Twitter that gives up after
// timeout and never follows a redirect: a signed request must reach
// exactly the URL that was signed, and a redirected token request would
// carry the client secret elsewhere.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// User is who Twitter says owns a credential.
type User struct {
	// ID is Twitter's immutable user id, as a decimal string.
	ID string
	// Handle is the screen name, without the "@".
	Handle string
	// Name is the display name.
	Name string
	// AvatarURL is the profile image URL; empty when there is none.
	AvatarURL string
}
