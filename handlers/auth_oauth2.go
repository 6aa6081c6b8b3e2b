package handlers

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/twitter"
	"example.com/twitterlogin/models"
)

// handleOAuth2Login starts an OAuth 2.0 login: a fresh state and PKCE
// verifier are sealed into this browser's login-state cookie, and the
// browser goes to Twitter's consent page.
func (s *Server) handleOAuth2Login(c *gin.Context) {
	ls := loginState{Flow: config.OAuth2, State: randomID(), Verifier: oauth2.GenerateVerifier()}
	if err := s.startLogin(c, ls); err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, s.twitter.AuthCodeURL(ls.State, ls.Verifier))
}

// handleOAuth2Callback completes an OAuth 2.0 login: it checks the state
// against this browser's login, spends the login on the server (so a
// replay never reaches Twitter), exchanges the code with the PKCE
// verifier, and asks Twitter who the user is.
func (s *Server) handleOAuth2Callback(c *gin.Context) {
	ls, err := s.takeLogin(c, config.OAuth2)
	if err != nil {
		s.fail(c, loginFailed(err))
		return
	}
	state := c.Query("state")
	if subtle.ConstantTimeCompare([]byte(state), []byte(ls.State)) != 1 {
		s.fail(c, loginFailed(errors.New("state mismatch")))
		return
	}
	if c.Query("error") != "" {
		s.cancelLogin(c, config.OAuth2)
		return
	}
	code := c.Query("code")
	if code == "" {
		s.fail(c, loginFailed(errors.New("callback without code")))
		return
	}
	if err := s.spendLogin(c.Request.Context(), ls); err != nil {
		s.fail(c, err)
		return
	}

	ctx := c.Request.Context()
	tok, err := s.twitter.Exchange(ctx, code, ls.Verifier)
	var te *twitter.TokenError
	switch {
	case errors.As(err, &te) && te.GrantRefused():
		// A used, expired or foreign code, or a PKCE mismatch: the callback
		// is at fault, not Twitter.
		s.fail(c, loginFailed(err))
		return
	case err != nil:
		s.fail(c, &providerError{step: "token exchange", err: err})
		return
	}
	user, err := s.twitter.UsersMe(ctx, tok.AccessToken)
	if err != nil {
		s.fail(c, &providerError{step: "users/me", err: err})
		return
	}
	s.finishLogin(c, models.TwitterProfile(user), s.oauth2ProviderToken(tok))
}
