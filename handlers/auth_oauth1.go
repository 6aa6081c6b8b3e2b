package handlers

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/twitter"
	"example.com/twitterlogin/models"
)

// newTwitterClient is the Twitter client of both flows, calling through
// client.
func newTwitterClient(cfg *config.Config, client *http.Client) *twitter.Client {
	return twitter.New(twitter.ConfigFrom(cfg, client))
}

// handleOAuth1Login starts a "Sign in with Twitter" (OAuth 1.0a) login: it
// gets a request token, seals it into this browser's login-state cookie,
// and sends the browser to Twitter to authenticate.
func (s *Server) handleOAuth1Login(c *gin.Context) {
	token, secret, err := s.twitter.RequestToken(c.Request.Context())
	if err != nil {
		s.fail(c, &providerError{step: "request token", err: err})
		return
	}
	if err := s.startLogin(c, loginState{Flow: config.OAuth1, Token: token, Secret: secret}); err != nil {
		s.fail(c, err)
		return
	}
	u, err := s.twitter.AuthorizationURL(token)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, u)
}

// handleOAuth1Callback completes the login: the returned request token must
// be the one this browser was sent off with (RFC 5849 §4.13), and the login
// is spent on the server, so a replay never reaches Twitter; the verifier
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
	if err := s.spendLogin(c.Request.Context(), ls); err != nil {
		s.fail(c, err)
		return
	}
	accessToken, accessSecret, err := s.twitter.AccessToken(c.Request.Context(), ls.Token, ls.Secret, verifier)
	var te *twitter.TokenError
	if errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized {
		// The request token was just accepted with the same keys, so a 401
		// here means a used, expired or forged verifier.
		s.fail(c, loginFailed(err))
		return
	} else if err != nil {
		s.fail(c, &providerError{step: "access token", err: err})
		return
	}
	user, err := s.twitter.VerifyCredentials(c.Request.Context(), accessToken, accessSecret)
	if err != nil {
		s.fail(c, &providerError{step: "verify credentials", err: err})
		return
	}
	s.finishLogin(c, models.TwitterProfile(user), models.ProviderToken{
		Flow:        string(config.OAuth1),
		AccessToken: accessToken,
		TokenSecret: accessSecret,
		// Each sign-in's token has a generation of its own, so that its
		// revocation has an outbox entry of its own (models.OutboxID).
		Generation: s.now().UnixNano(),
	})
}
