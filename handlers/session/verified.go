package session

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// verifiedTokens remembers the session tokens that verified on this
// instance, so that a cookie presented again is not parsed again:
// parsing (base64, the JSON of the claims, the HMAC) is about 40% of the
// CPU of a signed-in request the session cache serves, most of it the
// JSON.
//
// Nothing is checked less. An entry is only made once the token has
// verified in full (Verify: signature, alg, typ, kid, issuer, audience,
// times, subject, sid), and found again only for the very same bytes,
// which cannot verify differently: the keys are fixed when the Manager is
// built (a rotation builds a new one, which starts empty). What can change
// with time, exp, nbf and iat (with Leeway), is checked again on every
// use, by a validator built from the parser's own options
// (parserOptions), and an entry that fails is dropped. Logout is not
// this cache's business: Load asks the session cache and the store
// after it, as after Verify.
//
// Entries are keyed by the SHA-256 of the token, never by the token: a
// map lookup compares keys in time that depends on how much of them
// matches, which for a hash of the token tells nothing useful about it.
//
// Memory: at most max entries. TestVerifiedTokenSize measured about 465
// bytes per entry (the key and the parsed claims), so the default cap of
// 100,000 (maxCachedSessions) holds about 47 MB. A full cache drops the
// entries that can no longer validate (past exp and Leeway), and then
// random ones, down to half, as the session cache does.
type verifiedTokens struct {
	max int

	mu     sync.Mutex
	tokens map[[32]byte]verifiedToken // by SHA-256 of the token
	hits   uint64                     // lookups that found an entry
}

// verifiedToken is a token that verified: its claims, read-only once
// cached (the session key is claims.SessionID), and the user id Verify
// parsed from its subject.
type verifiedToken struct {
	claims *claims
	uid    bson.ObjectID
}

// newVerifiedTokens returns an empty cache of at most max tokens.
func newVerifiedTokens(max int) *verifiedTokens {
	return &verifiedTokens{max: max, tokens: make(map[[32]byte]verifiedToken)}
}

// verifyCached is Verify for Load: a token that verified before on this
// instance is not parsed again, its claims are only checked again (their
// times are what can have changed). Its errors are Verify's.
func (m *Manager) verifyCached(raw string) (bson.ObjectID, string, error) {
	// Session tokens are about 440 bytes: hash a copy on the stack.
	var buf [512]byte
	key := sha256.Sum256(append(buf[:0], raw...))
	if t, ok := m.verified.get(key); ok {
		if err := m.validator.Validate(t.claims); err != nil {
			m.verified.remove(key)
			// As the parser reports a claim that fails, in Verify.
			return bson.ObjectID{}, "", fmt.Errorf("%w: %w: %w", errBadToken, jwt.ErrTokenInvalidClaims, err)
		}
		return t.uid, t.claims.SessionID, nil
	}
	c, uid, err := m.verify(raw)
	if err != nil {
		return bson.ObjectID{}, "", err
	}
	m.verified.put(key, verifiedToken{claims: c, uid: uid}, m.now())
	return uid, c.SessionID, nil
}

// get returns the token whose SHA-256 is key, if it is cached.
func (v *verifiedTokens) get(key [32]byte) (verifiedToken, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.tokens[key]
	if ok {
		v.hits++
	}
	return t, ok
}

// put caches t, the token whose SHA-256 is key, at now.
func (v *verifiedTokens) put(key [32]byte, t verifiedToken, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.tokens[key]; !ok && len(v.tokens) >= v.max {
		v.evictLocked(now)
	}
	v.tokens[key] = t
}

// remove forgets the token whose SHA-256 is key.
func (v *verifiedTokens) remove(key [32]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.tokens, key)
}

// counts returns how many tokens are cached, and how many lookups found
// one.
func (v *verifiedTokens) counts() (tokens int, hits uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.tokens), v.hits
}

// evictLocked drops the tokens that can no longer validate at now, and if
// that frees too little, random ones (map order is random) down to half
// the cap: amortised, a constant cost per put.
func (v *verifiedTokens) evictLocked(now time.Time) {
	for key, t := range v.tokens {
		if !now.Before(t.claims.ExpiresAt.Add(Leeway)) {
			delete(v.tokens, key)
		}
	}
	for key := range v.tokens {
		if len(v.tokens) < v.max/2 {
			break
		}
		delete(v.tokens, key)
	}
}
