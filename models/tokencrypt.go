package models

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TokenKey is an AES-256 key for provider tokens at rest, named by ID so
// that every ciphertext says which key sealed it.
type TokenKey struct {
	ID  string
	Key []byte // 32 bytes
}

// sealedPrefix marks an encrypted token field: "enc:v1:<key id>:<base64url
// of nonce and ciphertext>".
const sealedPrefix = "enc:v1:"

// errTokenKey means a stored token was sealed with a key that is no longer
// configured, or was tampered with.
var errTokenKey = errors.New("provider token cannot be decrypted with the configured keys")

// tokenCipher seals the secret fields of provider tokens with AES-256-GCM.
// The additional data is the user's _id and the field's name, so a
// ciphertext copied to another user or field does not open.
type tokenCipher struct {
	current string
	aeads   map[string]cipher.AEAD
}

// newTokenCipher returns a cipher sealing with keys[0] and opening with
// any of keys, or nil for no keys (tokens stored in the clear: the
// configuration allows that only in dev mode).
func newTokenCipher(keys []TokenKey) (*tokenCipher, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	tc := &tokenCipher{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if k.ID == "" || strings.Contains(k.ID, ":") {
			return nil, fmt.Errorf("token key id %q must be non-empty and without ':'", k.ID)
		}
		if _, dup := tc.aeads[k.ID]; dup {
			return nil, fmt.Errorf("token key id %q appears twice", k.ID)
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil || len(k.Key) != 32 {
			return nil, fmt.Errorf("token key %q must be 32 bytes", k.ID)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		tc.aeads[k.ID] = aead
	}
	return tc, nil
}

// fields lists a token's secret fields by their stored names.
func (t *ProviderToken) fields() []struct {
	name string
	v    *string
} {
	return []struct {
		name string
		v    *string
	}{{"access_token", &t.AccessToken}, {"token_secret", &t.TokenSecret}, {"refresh_token", &t.RefreshToken}}
}

// seal returns tok with its secret fields encrypted for user uid. A nil
// cipher returns tok unchanged.
func (tc *tokenCipher) seal(uid bson.ObjectID, tok ProviderToken) ProviderToken {
	if tc == nil {
		return tok
	}
	aead := tc.aeads[tc.current]
	for _, f := range tok.fields() {
		if *f.v == "" {
			continue
		}
		nonce := make([]byte, aead.NonceSize())
		rand.Read(nonce)
		sealed := aead.Seal(nonce, nonce, []byte(*f.v), aad(uid, f.name))
		*f.v = sealedPrefix + tc.current + ":" + base64.RawURLEncoding.EncodeToString(sealed)
	}
	return tok
}

// open decrypts tok's secret fields in place. Fields stored in the clear
// (before encryption was configured) are left as they are.
func (tc *tokenCipher) open(uid bson.ObjectID, tok *ProviderToken) error {
	for _, f := range tok.fields() {
		rest, ok := strings.CutPrefix(*f.v, sealedPrefix)
		if !ok {
			continue
		}
		kid, b64, _ := strings.Cut(rest, ":")
		var aead cipher.AEAD
		if tc != nil {
			aead = tc.aeads[kid]
		}
		raw, err := base64.RawURLEncoding.DecodeString(b64)
		if aead == nil || err != nil || len(raw) < aead.NonceSize() {
			return fmt.Errorf("%w (key %q)", errTokenKey, kid)
		}
		plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], aad(uid, f.name))
		if err != nil {
			return fmt.Errorf("%w (key %q)", errTokenKey, kid)
		}
		*f.v = string(plain)
	}
	return nil
}

// sealedWith reports the id of the key that sealed tok's first secret
// field, "" when it is stored in the clear.
func sealedWith(tok *ProviderToken) string {
	for _, f := range tok.fields() {
		if rest, ok := strings.CutPrefix(*f.v, sealedPrefix); ok {
			kid, _, _ := strings.Cut(rest, ":")
			return kid
		}
	}
	return ""
}

func aad(uid bson.ObjectID, field string) []byte {
	return []byte("twitterlogin provider token\x00" + uid.Hex() + "\x00" + field)
}

// openToken decrypts u's provider token in place. A token the configured
// keys cannot open (its key was removed) is dropped with a warning: the
// user can still sign in, and the next sign-in stores a fresh one.
func (s *Store) openToken(u *User) {
	if u.Token == nil {
		return
	}
	if err := s.tokens.open(u.ID, u.Token); err != nil {
		s.log.Warn("dropping a stored provider token", "user_id", u.ID.Hex(), "err", err.Error())
		u.Token = nil
	}
}

// ReencryptTokens seals every stored provider token with the current key:
// run it after adding a new key first in TokenKeys, then remove the old
// key once it reports zero tokens left under other keys. Each rewrite is
// conditional on the token being unchanged, so a concurrent sign-in or
// refresh wins; a token no configured key opens is skipped. It returns how
// many tokens it rewrote.
func (s *Store) ReencryptTokens(ctx context.Context) (int, error) {
	if s.tokens == nil {
		return 0, errors.New("reencrypt tokens: no token keys configured")
	}
	cur, err := s.users.Find(ctx, bson.D{{Key: "token", Value: bson.D{{Key: "$exists", Value: true}}}},
		options.Find().SetProjection(bson.D{{Key: "token", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("reencrypt tokens: %w", storeError(err))
	}
	defer cur.Close(ctx)
	n := 0
	for cur.Next(ctx) {
		var u User
		if err := cur.Decode(&u); err != nil {
			return n, fmt.Errorf("reencrypt tokens: %w", err)
		}
		if u.Token == nil || sealedWith(u.Token) == s.tokens.current {
			continue
		}
		stored := *u.Token
		if err := s.tokens.open(u.ID, u.Token); err != nil {
			// Its key is gone (or it was tampered with): nothing can read
			// it, so there is nothing to keep; the next sign-in replaces it.
			s.log.Warn("reencrypt tokens: skipping a token no configured key opens", "user_id", u.ID.Hex(), "err", err.Error())
			continue
		}
		res, err := s.users.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: u.ID}, {Key: "token.access_token", Value: stored.AccessToken}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "token", Value: s.tokens.seal(u.ID, *u.Token)}}}})
		if err != nil {
			return n, fmt.Errorf("reencrypt tokens of user %s: %w", u.ID.Hex(), storeError(err))
		}
		n += int(res.ModifiedCount)
	}
	if err := cur.Err(); err != nil {
		return n, fmt.Errorf("reencrypt tokens: %w", storeError(err))
	}
	return n, nil
}
