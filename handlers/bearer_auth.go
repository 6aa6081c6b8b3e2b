package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/session"
	"example.com/twitterlogin/models"
)

// loadCaller authenticates a JSON API request: with a bearer token when it
// has an Authorization header (the cookie is then ignored), with the
// session cookie otherwise.
func (s *Server) loadCaller(c *gin.Context) {
	if s.bearer == nil || c.GetHeader("Authorization") == "" {
		s.loadSession(c)
		return
	}
	s.loadBearer(c)
}

// loadBearer verifies the request's service token with the app's own keys
// (through package bearer, as any other service would, minus the fetch),
// checks that it grants the request path, and loads the user it names (one
// read by _id). A deleted user is refused, and so is a token issued before
// its user last signed out everywhere ([models.User.TokenRevoked]). Bearer requests carry no cookie, so there is no
// CSRF to defend against; they may only send JSON.
func (s *Server) loadBearer(c *gin.Context) {
	// The token alone decides: a cookie sent along is neither used nor,
	// when the token is refused, cleared.
	c.Request.Header.Del("Cookie")
	claims, err := s.bearer.Check(c.Request)
	if err != nil {
		s.failBearer(c, err)
		return
	}
	uid, err := bson.ObjectIDFromHex(claims.Subject)
	if err != nil {
		s.failBearer(c, &bearer.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the token's subject is not a user"})
		return
	}
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	user, err := s.store.UserByID(ctx, uid)
	if errors.Is(err, models.ErrNotFound) {
		s.failBearer(c, &bearer.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the token's user no longer exists"})
		return
	} else if err != nil {
		s.fail(c, fmt.Errorf("load bearer user: %w", err))
		return
	}
	// Signed out everywhere (or deleted and signed up again) since the
	// token was issued: the same _id read decides.
	if claims.IssuedAt == nil || user.TokenRevoked(claims.IssuedAt.Time) {
		s.failBearer(c, &bearer.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the token has been revoked"})
		return
	}
	if c.Request.Method == http.MethodPost && c.ContentType() != gin.MIMEJSON {
		s.fail(c, failure(http.StatusUnsupportedMediaType, "Requests with a bearer token send application/json.", nil))
		return
	}
	s.logger(c).Debug("bearer token accepted", "user_id", user.ID.Hex(), "jti", claims.ID)
	ctxWith := bearer.WithClaims(withSession(c.Request.Context(), &session.Session{User: user}), claims)
	c.Request = c.Request.WithContext(ctxWith)
	c.Next()
}

// failBearer answers a refused bearer request per RFC 6750: the challenge
// in WWW-Authenticate, the reason in the JSON error.
func (s *Server) failBearer(c *gin.Context, err error) {
	var e *bearer.Error
	if !errors.As(err, &e) {
		s.fail(c, err)
		return
	}
	c.Header("WWW-Authenticate", e.Challenge(s.bearer.Realm()))
	s.fail(c, failure(e.Status, capitalize(e.Description)+".", err))
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
