package handlers

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/gin-gonic/gin"
)

// keys are the per-purpose keys derived from the configured secret, so that
// one secret never signs two kinds of thing. The session keys (purpose
// "session-jwt") are derived and held by package session.
type keys struct {
	loginState []byte // AES-256-GCM key for the login-state cookie
	csrf       []byte // HMAC key for form tokens
}

func deriveKeys(secret []byte) (keys, error) {
	derive := func(secret []byte, purpose string) ([]byte, error) {
		return hkdf.Key(sha256.New, secret, nil, "twitterlogin "+purpose+" v1", 32)
	}
	var k keys
	var err error
	if k.loginState, err = derive(secret, "login-state"); err != nil {
		return k, err
	}
	k.csrf, err = derive(secret, "csrf")
	return k, err
}

// setCookie is the one place the handlers make cookies (the session
// cookie is package session's): always HttpOnly, Secure, SameSite=Lax and
// Path=/ (the __Host- prefix requires the last two).
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
