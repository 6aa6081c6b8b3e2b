package handlers

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
)

const (
	// sessionCookie is the session cookie's name. The __Host- prefix makes
	// browsers insist on Secure, Path=/ and no Domain.
	sessionCookie = "__Host-session"
	// sessionTyp is the JOSE typ of session tokens, so that no other JWT
	// (a service token, say) is ever accepted as a session (RFC 8725 §3.11).
	sessionTyp = "session+jwt"
	// sessionAudience is the aud of session tokens.
	sessionAudience = "session"
	// jwtLeeway tolerates clock skew between instances.
	jwtLeeway = 30 * time.Second
)

// keys are the per-purpose keys derived from the configured secret, so that
// one secret never signs two kinds of thing.
type keys struct {
	session    []byte // HS256 key for session JWTs, from the current secret
	sessionKID string // its kid
	// verify holds the session keys of the current and the old secrets by
	// kid: tokens signed before a rotation stay valid until they expire.
	verify     map[string][]byte
	loginState []byte // AES-256-GCM key for the login-state cookie
	csrf       []byte // HMAC key for form tokens
}

func deriveKeys(secret []byte, old ...[]byte) (keys, error) {
	derive := func(secret []byte, purpose string) ([]byte, error) {
		return hkdf.Key(sha256.New, secret, nil, "twitterlogin "+purpose+" v1", 32)
	}
	k := keys{verify: map[string][]byte{}}
	var err error
	for i, sec := range append([][]byte{secret}, old...) {
		key, err := derive(sec, "session-jwt")
		if err != nil {
			return k, err
		}
		kid := sessionKeyID(key)
		if i == 0 {
			k.session, k.sessionKID = key, kid
		}
		k.verify[kid] = key
	}
	if k.loginState, err = derive(secret, "login-state"); err != nil {
		return k, err
	}
	k.csrf, err = derive(secret, "csrf")
	return k, err
}

// sessionKeyID names a session key without revealing it: the first 9
// bytes of its SHA-256, base64url.
func sessionKeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// sessionClaims are the claims of a session token: who (sub), which
// session (sid), and the registered time and audience claims. Nothing from
// Twitter goes in here: the token is signed, not encrypted.
type sessionClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// issueSessionToken signs a session token for user and session id.
func (s *Server) issueSessionToken(user bson.ObjectID, sid string, now time.Time) (string, error) {
	claims := sessionClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   user.Hex(),
			Audience:  jwt.ClaimStrings{sessionAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.SessionLifetime)),
			ID:        randomID(),
		},
		SessionID: sid,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["typ"] = sessionTyp
	t.Header["kid"] = s.keys.sessionKID
	signed, err := t.SignedString(s.keys.session)
	if err != nil {
		return "", fmt.Errorf("sign session token: %w", err)
	}
	return signed, nil
}

// errBadToken is the cause of every refused session token.
var errBadToken = errors.New("invalid session token")

// verifySessionToken checks signature, algorithm, typ, issuer, audience and
// times, and returns the user id and session id it names.
func (s *Server) verifySessionToken(raw string) (bson.ObjectID, string, error) {
	var claims sessionClaims
	_, err := s.jwtParser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		// WithValidMethods already pins HS256; checking the concrete method
		// too keeps the key an HMAC key even if that option were dropped.
		if t.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		if typ, _ := t.Header["typ"].(string); typ != sessionTyp {
			return nil, fmt.Errorf("unexpected typ %q", typ)
		}
		// kid only selects among our own keys; an unknown one is refused.
		kid, _ := t.Header["kid"].(string)
		key, ok := s.keys.verify[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	})
	if err != nil {
		return bson.ObjectID{}, "", fmt.Errorf("%w: %w", errBadToken, err)
	}
	uid, err := bson.ObjectIDFromHex(claims.Subject)
	if err != nil {
		return bson.ObjectID{}, "", fmt.Errorf("%w: subject is not a user id", errBadToken)
	}
	if claims.SessionID == "" || claims.IssuedAt == nil {
		return bson.ObjectID{}, "", fmt.Errorf("%w: missing sid or iat", errBadToken)
	}
	return uid, claims.SessionID, nil
}

func newJWTParser(issuer string, now func() time.Time) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(sessionAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(jwtLeeway),
		jwt.WithTimeFunc(now),
	)
}

// setCookie is the one place cookies are made: always HttpOnly, Secure,
// SameSite=Lax and Path=/ (the __Host- prefix requires the last two).
// maxAge 0 makes a session cookie; a negative maxAge deletes it.
func setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) setSessionCookie(c *gin.Context, token string) {
	setCookie(c, sessionCookie, token, 0)
}

// clearSessionCookie deletes the session cookie. Both loadSession and
// fail may clear it in one response; any earlier Set-Cookie for it is
// dropped so the response carries exactly one.
func (s *Server) clearSessionCookie(c *gin.Context) {
	h := c.Writer.Header()
	var kept []string
	for _, line := range h.Values("Set-Cookie") {
		if !strings.HasPrefix(line, sessionCookie+"=") {
			kept = append(kept, line)
		}
	}
	h.Del("Set-Cookie")
	for _, line := range kept {
		h.Add("Set-Cookie", line)
	}
	setCookie(c, sessionCookie, "", -1)
}

func hasSessionCookie(c *gin.Context) bool {
	_, err := c.Request.Cookie(sessionCookie)
	return err == nil
}

// csrfToken is the synchronizer token for forms of session sid: forms carry
// it as a hidden field, as defence in depth behind CrossOriginProtection.
func (s *Server) csrfToken(sid string) string {
	m := hmac.New(sha256.New, s.keys.csrf)
	m.Write([]byte(sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) validCSRF(sid, token string) bool {
	return hmac.Equal([]byte(s.csrfToken(sid)), []byte(token))
}

// randomID returns 130 random bits as 26 base32 characters (rand.Text).
func randomID() string {
	return rand.Text()
}
