package handlers

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"example.com/twitterlogin/handlers/session"
)

// What the HTTP tests need to know of package session to send, forge and
// age session cookies.
const (
	sessionCookie = session.CookieName
	// sessionTyp is the typ header a session token must carry.
	sessionTyp = "session+jwt"
	jwtLeeway  = session.Leeway
)

// sessionSigningKey derives, as package session does, the HS256 key and
// kid that sign session tokens for secret, so that tests can forge tokens
// that differ from a genuine one in one respect only.
func sessionSigningKey(t *testing.T, secret []byte) (key []byte, kid string) {
	t.Helper()
	key, err := hkdf.Key(sha256.New, secret, nil, "twitterlogin session-jwt v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(key)
	return key, base64.RawURLEncoding.EncodeToString(sum[:9])
}
