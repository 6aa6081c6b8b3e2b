package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"example.com/twitterlogin/handlers/session"
)

// keys are the per-purpose keys derived from the configured secret
// (session.DeriveKey), so that one secret never signs two kinds of thing.
// The session keys (purpose "session-jwt") are held by package session.
type keys struct {
	loginState []byte // AES-256-GCM key for the login-state cookie
	csrf       []byte // HMAC key for form tokens
}

func deriveKeys(secret []byte) (keys, error) {
	var k keys
	var err error
	if k.loginState, err = session.DeriveKey(secret, "login-state"); err != nil {
		return k, err
	}
	k.csrf, err = session.DeriveKey(secret, "csrf")
	return k, err
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
