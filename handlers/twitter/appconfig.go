package twitter

import (
	"net/http"

	"example.com/twitterlogin/config"
)

// ConfigFrom is the client configuration of the app's settings: both
// flows' keys, the callback URLs under PUBLIC_URL, and the API bases
// (real Twitter's, or the dev provider's). httpClient calls Twitter; nil
// means [NewHTTPClient] with the configured timeout.
func ConfigFrom(cfg *config.Config, httpClient *http.Client) Config {
	if httpClient == nil {
		httpClient = NewHTTPClient(cfg.Twitter.Timeout)
	}
	return Config{
		APIBase:           cfg.Twitter.APIBase,
		AuthorizeBase:     cfg.Twitter.AuthorizeBase,
		ConsumerKey:       cfg.Twitter.ConsumerKey,
		ConsumerSecret:    cfg.Twitter.ConsumerSecret,
		OAuth1CallbackURL: cfg.CallbackURL(config.OAuth1),
		ClientID:          cfg.Twitter.ClientID,
		ClientSecret:      cfg.Twitter.ClientSecret,
		OAuth2RedirectURL: cfg.CallbackURL(config.OAuth2),
		OfflineAccess:     cfg.Twitter.OfflineAccess,
		HTTPClient:        httpClient,
	}
}
