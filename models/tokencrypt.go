package models

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
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
