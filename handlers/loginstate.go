package handlers

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/session"
)

const (
	// loginStateCookie carries an in-flight login from the redirect to
	// Twitter until its callback. It is bound to this browser, which is
	// what defeats login CSRF (RFC 6749 §10.12, RFC 5849 §4.13).
	loginStateCookie = "__Host-login"
	// loginStateTTL bounds how long a user may take at Twitter.
	loginStateTTL = 10 * time.Minute
)

// loginState is what the app must remember between sending the browser to
// Twitter and the callback. It travels sealed (AES-256-GCM), so the browser
// can neither read the PKCE verifier or request-token secret nor forge it.
type loginState struct {
	Flow      config.Flow `json:"f"`
	State     string      `json:"s,omitempty"`  // OAuth 2.0 state
	Verifier  string      `json:"v,omitempty"`  // OAuth 2.0 PKCE verifier
	Token     string      `json:"t,omitempty"`  // OAuth 1.0a request token
	Secret    string      `json:"ts,omitempty"` // OAuth 1.0a request token secret
	Next      string      `json:"n,omitempty"`  // where to return after login; see safeReturnPath
	ExpiresAt int64       `json:"e"`
	// Nonce names this login on the server, where its callback is
	// recorded as spent (loginspent.go), so a kept copy of the cookie
	// cannot be replayed.
	Nonce string `json:"i"`
}

var errNoLoginState = errors.New("no login in progress in this browser")

func (s *Server) sealLoginState(ls loginState) (string, error) {
	plain, err := json.Marshal(ls)
	if err != nil {
		return "", fmt.Errorf("encode login state: %w", err)
	}
	aead := s.stateAEAD
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	sealed := aead.Seal(nonce, nonce, plain, []byte(loginStateCookie))
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (s *Server) openLoginState(v string) (loginState, error) {
	var ls loginState
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ls, fmt.Errorf("%w: bad encoding", errNoLoginState)
	}
	aead := s.stateAEAD
	if len(raw) < aead.NonceSize() {
		return ls, fmt.Errorf("%w: too short", errNoLoginState)
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(loginStateCookie))
	if err != nil {
		return ls, fmt.Errorf("%w: not ours or tampered with", errNoLoginState)
	}
	if err := json.Unmarshal(plain, &ls); err != nil {
		return ls, fmt.Errorf("%w: %w", errNoLoginState, err)
	}
	if s.now().Unix() > ls.ExpiresAt {
		return ls, fmt.Errorf("%w: expired", errNoLoginState)
	}
	return ls, nil
}

// newLoginAEAD returns the cipher for login-state cookies. A GCM AEAD is
// safe for concurrent use.
func newLoginAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("login state cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// startLogin remembers ls in this browser for loginStateTTL, together
// with the page to return to after the login (?next=, if it is a safe
// local path): it stays here, never travels through Twitter.
func (s *Server) startLogin(c *gin.Context, ls loginState) error {
	ls.ExpiresAt = s.now().Add(loginStateTTL).Unix()
	ls.Nonce = randomID()
	if next := safeReturnPath(c.Query("next")); next != "/" {
		ls.Next = next
	}
	v, err := s.sealLoginState(ls)
	if err != nil {
		return err
	}
	session.SetCookie(c.Writer, loginStateCookie, v, int(loginStateTTL/time.Second))
	return nil
}

// takeLogin returns this browser's in-flight login for flow and deletes it
// from the browser. A kept copy of the cookie still opens: the callbacks
// spend it on the server too (spendLogin) before they call Twitter.
func (s *Server) takeLogin(c *gin.Context, flow config.Flow) (loginState, error) {
	ck, err := c.Request.Cookie(loginStateCookie)
	if err != nil {
		return loginState{}, errNoLoginState
	}
	session.SetCookie(c.Writer, loginStateCookie, "", -1)
	ls, err := s.openLoginState(ck.Value)
	if err != nil {
		return ls, err
	}
	if ls.Flow != flow {
		// A response for one flow delivered to the other's callback (mix-up).
		return ls, fmt.Errorf("%w: started %s, callback for %s", errNoLoginState, ls.Flow, flow)
	}
	// Checked again: the key may have changed since it was sealed.
	c.Request = c.Request.WithContext(withReturnTo(c.Request.Context(), safeReturnPath(ls.Next)))
	return ls, nil
}
