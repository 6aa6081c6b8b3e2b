package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/tokenkeys"
	"example.com/twitterlogin/models"
)

const (
	// tokenBodyLimit bounds POST /token bodies.
	tokenBodyLimit = 4 << 10
	// maxGrants bounds the routes one token may carry.
	maxGrants = 32
	// jwksMaxAge is how long verifiers and proxies may cache the key set
	// and the certificate. Rotation keeps old keys published far longer.
	jwksMaxAge = "public, max-age=300"
)

// tokenRequest is the body of POST /token.
type tokenRequest struct {
	Access   []string `json:"access"`
	Audience string   `json:"audience"`
}

// tokenResponse is the RFC 6749 §5.1 shaped answer of POST /token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// handleToken issues a service token to the signed-in user for the routes
// of one audience that their roles allow: asking for any route the roles
// do not allow is refused whole (403), asking for none is a 400.
func (s *Server) handleToken(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	if c.ContentType() != gin.MIMEJSON {
		s.fail(c, failure(http.StatusUnsupportedMediaType, "Send application/json.", nil))
		return
	}
	req, err := decodeTokenRequest(c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	// Roles are read fresh: a grant must not outlive a role change by a
	// session cache's lifetime.
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	user, err := s.store.UserByID(ctx, sess.User.ID)
	if errors.Is(err, models.ErrNotFound) {
		s.fail(c, fmt.Errorf("%w: user deleted", errUnauthenticated))
		return
	} else if err != nil {
		s.fail(c, fmt.Errorf("load user roles: %w", err))
		return
	}
	if err := s.checkGrants(user.Roles, req); err != nil {
		s.fail(c, err)
		return
	}

	now, err := s.tokenIssueTime(c.Request.Context(), user)
	if err != nil {
		s.fail(c, err)
		return
	}
	key, err := s.tokenKeys.Signing(now)
	if err != nil {
		s.fail(c, failure(http.StatusServiceUnavailable, "Tokens cannot be issued right now.", err))
		return
	}
	exp := now.Add(s.cfg.Tokens.Lifetime)
	// A token never outlives the certificate of the key that signed it.
	if na := key.Cert().NotAfter; exp.After(na) {
		exp = na
	}
	claims := bearer.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   user.ID.Hex(),
			Audience:  jwt.ClaimStrings{req.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        randomID(),
		},
		Access: req.Access,
	}
	signed, err := key.Sign(claims, bearer.Typ)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.logger(c).Info("service token issued", "user_id", user.ID.Hex(), "audience", req.Audience,
		"access", req.Access, "jti", claims.ID, "kid", key.KID)
	s.recordEvent(c, user.ID, models.Event{Kind: models.EventTokenIssued, Detail: truncate(req.Audience+" "+strings.Join(req.Access, " "), 200)})
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, tokenResponse{
		AccessToken: signed,
		TokenType:   "Bearer",
		ExpiresIn:   int(exp.Sub(now) / time.Second),
	})
}

// checkGrants refuses (403) a request for any route that roles do not
// allow for its audience.
func (s *Server) checkGrants(roles []string, req tokenRequest) error {
	allowed := s.cfg.Tokens.Allowed(roles, req.Audience)
	if len(allowed) == 0 {
		return failure(http.StatusForbidden, fmt.Sprintf("Your roles allow no tokens for audience %q.", req.Audience), nil)
	}
	var denied []string
	for _, a := range req.Access {
		if !slices.Contains(allowed, a) {
			denied = append(denied, a)
		}
	}
	if len(denied) > 0 {
		return failure(http.StatusForbidden, fmt.Sprintf("Your roles do not allow %s for audience %q; they allow %s.",
			strings.Join(denied, ", "), req.Audience, strings.Join(allowed, ", ")), nil)
	}
	return nil
}

// tokenIssueTime returns the time to issue a token of user at: now, or,
// when now is in the second of the user's last "log out everywhere", the
// start of the next second, after waiting for it. A token's iat has whole
// seconds, and /db refuses the cutoff's second (models.User.TokenRevoked),
// so a token issued just after signing out everywhere would be refused.
func (s *Server) tokenIssueTime(ctx context.Context, user *models.User) (time.Time, error) {
	now := s.now()
	at := user.TokenIssueAfter(now)
	if !at.After(now) {
		return now, nil
	}
	// At most a second, unless this instance's clock is behind the one
	// that signed the user out: then the token says it was issued a
	// little ahead of this clock, within the verifiers' leeway.
	t := time.NewTimer(min(at.Sub(now), time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return time.Time{}, fmt.Errorf("wait to issue a token: %w", ctx.Err())
	case <-t.C:
	}
	if now = s.now(); now.Before(at) {
		now = at
	}
	return now, nil
}

// decodeTokenRequest reads exactly {"access": [...], "audience": "..."}
// and checks that every route is a clean path; duplicates are dropped.
func decodeTokenRequest(body io.Reader) (tokenRequest, error) {
	var req tokenRequest
	if err := decodeJSONBody(body, &req, `Send a JSON object like {"access": ["/image"], "audience": "image-service"} with no other fields.`); err != nil {
		return req, err
	}
	switch {
	case len(req.Access) == 0:
		return req, failure(http.StatusBadRequest, `Ask for at least one route in "access".`, nil)
	case len(req.Access) > maxGrants:
		return req, failure(http.StatusBadRequest, fmt.Sprintf(`Ask for at most %d routes.`, maxGrants), nil)
	case strings.TrimSpace(req.Audience) == "" || len(req.Audience) > 200:
		return req, failure(http.StatusBadRequest, `The field "audience" is required.`, nil)
	}
	for _, a := range req.Access {
		if p, ok := bearer.CleanPath(&url.URL{Path: a}); !ok || p != a || len(a) > 200 || strings.ContainsAny(a, "%?#") {
			return req, failure(http.StatusBadRequest, fmt.Sprintf("Routes are clean absolute paths like /image, but %q is not.", a), nil)
		}
	}
	slices.Sort(req.Access)
	req.Access = slices.Compact(req.Access)
	return req, nil
}

// handleJWKS publishes the public keys of every configured signing key.
func (s *Server) handleJWKS(c *gin.Context) {
	c.Header("Cache-Control", jwksMaxAge)
	c.Data(http.StatusOK, "application/json", s.jwks)
}

// handleTokenCert publishes the certificate chain of the key that signs
// now.
func (s *Server) handleTokenCert(c *gin.Context) {
	pem, err := s.tokenKeys.CertPEM(s.now())
	if errors.Is(err, tokenkeys.ErrNoSigningKey) {
		s.fail(c, failure(http.StatusServiceUnavailable, "No signing certificate is valid right now.", err))
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", jwksMaxAge)
	c.Data(http.StatusOK, "application/x-pem-file", pem)
}

// setUpTokens prepares issuing and verifying service tokens with keys;
// nil leaves them off.
func (s *Server) setUpTokens(keys *tokenkeys.Set) error {
	if keys == nil {
		return nil
	}
	var err error
	if s.jwks, err = keys.JWKS(); err != nil {
		return err
	}
	local, err := keys.Storage()
	if err != nil {
		return err
	}
	s.bearer, err = bearer.New(bearer.Options{
		Keys:        local,
		Issuer:      s.issuer,
		Audience:    s.cfg.Tokens.Audience,
		Realm:       s.issuer,
		MaxLifetime: config.MaxTokenLifetime,
		Now:         s.now,
	})
	if err != nil {
		return err
	}
	s.tokenKeys = keys
	return nil
}

// tokenRoutes adds the token endpoint and the published keys, when
// service tokens are on.
func (s *Server) tokenRoutes(r *gin.Engine) {
	if s.tokenKeys == nil {
		return
	}
	r.POST("/token", jsonAPI, s.limitBody(tokenBodyLimit), s.loadSession, s.requireUser, s.limitWrites, s.handleToken)
	r.GET("/.well-known/jwks.json", s.handleJWKS)
	r.GET("/.well-known/token-cert.pem", s.handleTokenCert)
}
