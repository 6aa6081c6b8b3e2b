package handlers

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/models"
)

// oauth2Scopes are the least Twitter needs for GET /2/users/me.
var oauth2Scopes = []string{"tweet.read", "users.read"}

// maxProviderBody caps what we read from Twitter (x/oauth2 does the same).
const maxProviderBody = 1 << 20

func newOAuth2Config(cfg *config.Config) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     cfg.Twitter.ClientID,
		ClientSecret: cfg.Twitter.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:  cfg.Twitter.AuthorizeBase + "/i/oauth2/authorize",
			TokenURL: cfg.Twitter.APIBase + "/2/oauth2/token",
			// Twitter authenticates confidential clients with Basic only;
			// auto-detect would retry a failure with the secret in the body.
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: cfg.CallbackURL(config.OAuth2),
		Scopes:      oauth2ScopesFor(cfg),
	}
}

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
	c.Redirect(http.StatusFound, s.oauth2.AuthCodeURL(ls.State, oauth2.S256ChallengeOption(ls.Verifier)))
}

// handleOAuth2Callback completes an OAuth 2.0 login: it checks the state
// against this browser's login, exchanges the code with the PKCE verifier,
// and asks Twitter who the user is.
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

	ctx := context.WithValue(c.Request.Context(), oauth2.HTTPClient, s.httpClient)
	tok, err := s.oauth2.Exchange(ctx, code, oauth2.VerifierOption(ls.Verifier))
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_request"):
		// A used, expired or foreign code, or a PKCE mismatch: the callback
		// is at fault, not Twitter. X reports these as invalid_request
		// where RFC 6749 says invalid_grant.
		s.fail(c, loginFailed(redactRetrieveError(err)))
		return
	case err != nil:
		s.fail(c, &providerError{step: "token exchange", err: redactRetrieveError(err)})
		return
	}
	if tok.Type() != "Bearer" {
		s.fail(c, &providerError{step: "token exchange", err: fmt.Errorf("token type %q, want bearer", tok.TokenType)})
		return
	}
	profile, err := s.usersMe(ctx, tok.AccessToken)
	if err != nil {
		s.fail(c, &providerError{step: "users/me", err: err})
		return
	}
	s.finishLogin(c, profile, s.oauth2ProviderToken(tok))
}

// usersMe asks Twitter's v2 API who owns accessToken.
func (s *Server) usersMe(ctx context.Context, accessToken string) (models.TwitterProfile, error) {
	var p models.TwitterProfile
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Twitter.APIBase+"/2/users/me?user.fields=profile_image_url", nil)
	if err != nil {
		return p, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	var body struct {
		Data struct {
			ID              string `json:"id"`
			Name            string `json:"name"`
			Username        string `json:"username"`
			ProfileImageURL string `json:"profile_image_url"`
		} `json:"data"`
	}
	if err := s.getJSON(s.httpClient, req, &body); err != nil {
		return p, err
	}
	d := body.Data
	return models.TwitterProfile{ID: d.ID, Handle: d.Username, Name: d.Name, AvatarURL: d.ProfileImageURL}, nil
}

// getJSON sends req and decodes a 200 JSON answer into v. Errors name the
// status only: provider error bodies may echo what we sent.
func (s *Server) getJSON(client *http.Client, req *http.Request, v any) error {
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxProviderBody))
		return newAPIStatusError(req, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxProviderBody)).Decode(v); err != nil {
		return fmt.Errorf("%s %s: decode: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// redactRetrieveError keeps the status and OAuth error code of a failed
// token request and drops the body, which we do not control.
func redactRetrieveError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("token endpoint: status %d, error %q", status, re.ErrorCode)
	}
	return redactURLError(err)
}

// redactURLError drops the URL from a *url.Error (its query could carry
// something secret) but keeps the cause, so timeouts are still recognised.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s request: %w", ue.Op, ue.Err)
	}
	return err
}
