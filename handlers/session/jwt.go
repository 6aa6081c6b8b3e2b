package session

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
)

const (
	// tokenType is the JOSE typ of session tokens, so that no other JWT
	// (a service token, say) is ever accepted as a session (RFC 8725 §3.11).
	tokenType = "session+jwt"
	// audience is the aud of session tokens.
	audience = "session"
	// Leeway tolerates clock skew between instances: a token is accepted
	// this long past its exp, and this long before its nbf and iat.
	Leeway = 30 * time.Second
)

// keys are the session keys derived from the configured secrets, by kid.
type keys struct {
	sign    []byte // HS256 key for new tokens, from the current secret
	signKID string // its kid
	// verify holds the keys of the current and the old secrets by kid:
	// tokens signed before a rotation stay valid until they expire.
	verify map[string][]byte
}

// deriveKeys derives the session key of secret and of each old secret.
// The HKDF info keeps it apart from the other keys the app derives from
// the same secret (handlers' login-state and CSRF keys).
func deriveKeys(secret []byte, old ...[]byte) (keys, error) {
	k := keys{verify: map[string][]byte{}}
	for i, sec := range append([][]byte{secret}, old...) {
		key, err := DeriveKey(sec, "session-jwt")
		if err != nil {
			return k, err
		}
		kid := keyID(key)
		if i == 0 {
			k.sign, k.signKID = key, kid
		}
		k.verify[kid] = key
	}
	return k, nil
}

// DeriveKey derives from the app's secret the 32-byte key of one purpose
// ("session-jwt", "login-state", "csrf"): HKDF-SHA256 with the purpose in
// the info, so one secret never signs or seals two kinds of thing.
func DeriveKey(secret []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, "twitterlogin "+purpose+" v1", 32)
}

// keyID names a session key without revealing it: the first 9 bytes of
// its SHA-256, base64url.
func keyID(key []byte) string {
	sum := sha256.Sum256(key)
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// claims are the claims of a session token: who (sub), which session
// (sid), and the registered time and audience claims. Nothing from
// Twitter goes in here: the token is signed, not encrypted.
type claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// sign signs a session token for user and session key.
func (m *Manager) sign(user bson.ObjectID, key string, now time.Time) (string, error) {
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    m.issuer,
			Subject:   user.Hex(),
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(m.lifetime)),
			ID:        rand.Text(),
		},
		SessionID: key,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["typ"] = tokenType
	t.Header["kid"] = m.keys.signKID
	signed, err := t.SignedString(m.keys.sign)
	if err != nil {
		return "", fmt.Errorf("sign session token: %w", err)
	}
	return signed, nil
}

// errBadToken is the cause of every refused session token.
var errBadToken = errors.New("invalid session token")

// Verify checks a session token's signature, algorithm (HS256 only), typ,
// kid, issuer, audience and times, and returns the user id and session
// key it names. It does not ask the store, so it ignores logout: use Load
// to authenticate a request. It parses raw every time, as the load
// tests' floor (handlers.TokenOnlyHandler) means it to; Load skips the
// parse of a token that verified before (verifiedTokens).
func (m *Manager) Verify(raw string) (bson.ObjectID, string, error) {
	c, uid, err := m.verify(raw)
	if err != nil {
		return bson.ObjectID{}, "", err
	}
	return uid, c.SessionID, nil
}

// verify is Verify, returning the claims it parsed too.
func (m *Manager) verify(raw string) (*claims, bson.ObjectID, error) {
	var c claims
	_, err := m.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		// WithValidMethods already pins HS256; checking the concrete method
		// too keeps the key an HMAC key even if that option were dropped.
		if t.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		if typ, _ := t.Header["typ"].(string); typ != tokenType {
			return nil, fmt.Errorf("unexpected typ %q", typ)
		}
		// kid only selects among our own keys; an unknown one is refused.
		kid, _ := t.Header["kid"].(string)
		key, ok := m.keys.verify[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	})
	if err != nil {
		return nil, bson.ObjectID{}, fmt.Errorf("%w: %w", errBadToken, err)
	}
	uid, err := bson.ObjectIDFromHex(c.Subject)
	if err != nil {
		return nil, bson.ObjectID{}, fmt.Errorf("%w: subject is not a user id", errBadToken)
	}
	if c.SessionID == "" || c.IssuedAt == nil {
		return nil, bson.ObjectID{}, fmt.Errorf("%w: missing sid or iat", errBadToken)
	}
	return &c, uid, nil
}

// parserOptions are the checks of session tokens: the parser applies
// them to every token it parses, and the validator re-applies them to
// the claims of a token verified earlier (verified.go). Both are built
// from this one list, so they cannot drift apart.
func parserOptions(issuer string, now func() time.Time) []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(now),
	}
}
