package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/dghubble/oauth1"
	"github.com/gin-gonic/gin"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/models"
)

func newOAuth1Config(cfg *config.Config, client *http.Client) *oauth1.Config {
	return &oauth1.Config{
		ConsumerKey:    cfg.Twitter.ConsumerKey,
		ConsumerSecret: cfg.Twitter.ConsumerSecret,
		CallbackURL:    cfg.CallbackURL(config.OAuth1),
		// All three on one host: the signature covers the host, and a
		// signed POST must not be redirected elsewhere.
		Endpoint: oauth1.Endpoint{
			RequestTokenURL: cfg.Twitter.APIBase + "/oauth/request_token",
			AuthorizeURL:    cfg.Twitter.APIBase + "/oauth/authenticate",
			AccessTokenURL:  cfg.Twitter.APIBase + "/oauth/access_token",
		},
		HTTPClient: client,
		// Set here, not lazily by the library on first use: the config
		// is shared by concurrent requests and revocations.
		Noncer: oauth1.Base64Noncer{},
	}
}

// handleOAuth1Login starts a "Sign in with Twitter" (OAuth 1.0a) login: it
// gets a request token, seals it into this browser's login-state cookie,
// and sends the browser to Twitter to authenticate.
func (s *Server) handleOAuth1Login(c *gin.Context) {
	// dghubble/oauth1 takes no context; its HTTPClient has the timeout.
	token, secret, err := s.oauth1.RequestToken()
	if err != nil {
		s.fail(c, &providerError{step: "request token", err: redactOAuth1Error(err)})
		return
	}
	if err := s.startLogin(c, loginState{Flow: config.OAuth1, Token: token, Secret: secret}); err != nil {
		s.fail(c, err)
		return
	}
	u, err := s.oauth1.AuthorizationURL(token)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, u.String())
}

// handleOAuth1Callback completes the login: the returned request token must
// be the one this browser was sent off with (RFC 5849 §4.13); the verifier
// buys the access token, which asks Twitter who the user is.
func (s *Server) handleOAuth1Callback(c *gin.Context) {
	ls, err := s.takeLogin(c, config.OAuth1)
	if err != nil {
		s.fail(c, loginFailed(err))
		return
	}
	// Twitter reports a cancel as ?denied=<request token>.
	if denied := c.Query("denied"); denied != "" {
		if subtle.ConstantTimeCompare([]byte(denied), []byte(ls.Token)) != 1 {
			s.fail(c, loginFailed(errors.New("denied token mismatch")))
			return
		}
		s.cancelLogin(c, config.OAuth1)
		return
	}
	token, verifier := c.Query("oauth_token"), c.Query("oauth_verifier")
	if token == "" || verifier == "" {
		s.fail(c, loginFailed(errors.New("callback without oauth_token or oauth_verifier")))
		return
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(ls.Token)) != 1 {
		s.fail(c, loginFailed(errors.New("request token mismatch")))
		return
	}
	accessToken, accessSecret, err := s.oauth1.AccessToken(ls.Token, ls.Secret, verifier)
	if status, _ := oauth1Status(err); status == http.StatusUnauthorized {
		// The request token was just accepted with the same keys, so a 401
		// here means a used, expired or forged verifier.
		s.fail(c, loginFailed(redactOAuth1Error(err)))
		return
	} else if err != nil {
		s.fail(c, &providerError{step: "access token", err: redactOAuth1Error(err)})
		return
	}
	profile, err := s.verifyCredentials(c.Request.Context(), oauth1.NewToken(accessToken, accessSecret))
	if err != nil {
		s.fail(c, &providerError{step: "verify credentials", err: err})
		return
	}
	s.finishLogin(c, profile, models.ProviderToken{
		Flow:        string(config.OAuth1),
		AccessToken: accessToken,
		TokenSecret: accessSecret,
	})
}

// verifyCredentials asks Twitter's v1.1 API who owns token.
func (s *Server) verifyCredentials(ctx context.Context, token *oauth1.Token) (models.TwitterProfile, error) {
	var p models.TwitterProfile
	client := s.oauth1.Client(context.WithValue(ctx, oauth1.HTTPClient, s.httpClient), token)
	client.Timeout = s.httpClient.Timeout
	client.CheckRedirect = s.httpClient.CheckRedirect
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		s.cfg.Twitter.APIBase+"/1.1/account/verify_credentials.json?include_entities=false&skip_status=true&include_email=false", nil)
	if err != nil {
		return p, err
	}
	var body struct {
		IDStr                string `json:"id_str"`
		ScreenName           string `json:"screen_name"`
		Name                 string `json:"name"`
		ProfileImageURLHTTPS string `json:"profile_image_url_https"`
	}
	if err := s.getJSON(client, req, &body); err != nil {
		return p, err
	}
	return models.TwitterProfile{ID: body.IDStr, Handle: body.ScreenName, Name: body.Name, AvatarURL: body.ProfileImageURLHTTPS}, nil
}

var oauth1StatusErr = regexp.MustCompile(`^oauth1: invalid status ([0-9]{3})`)

// oauth1Status extracts the HTTP status from a dghubble/oauth1 token error.
func oauth1Status(err error) (int, bool) {
	if err == nil {
		return 0, false
	}
	m := oauth1StatusErr.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	return n, true
}

// redactOAuth1Error drops the response body that dghubble/oauth1 quotes in
// its errors: we log the status, not what the provider chose to send.
func redactOAuth1Error(err error) error {
	if status, ok := oauth1Status(err); ok {
		return fmt.Errorf("token endpoint: status %d", status)
	}
	return redactURLError(err)
}
