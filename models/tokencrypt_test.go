package models_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

// TestProviderTokensEncryptedAtRest: a dump of the users collection shows
// no usable token; the store reads them back; a ciphertext moved to
// another user does not open; rotation re-encrypts under the new key and
// the old key can then be removed.
func TestProviderTokensEncryptedAtRest(t *testing.T) {
	srv := storetest.NewServer(t)
	ctx := testContext(t)
	name := storetest.DatabaseName()
	k1 := models.TokenKey{ID: "k1", Key: bytes.Repeat([]byte{1}, 32)}
	k2 := models.TokenKey{ID: "k2", Key: bytes.Repeat([]byte{2}, 32)}
	open := func(keys ...models.TokenKey) *models.Store {
		s, err := models.Open(ctx, models.Options{URI: srv.URI(), Database: name, TokenKeys: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ctx) })
		return s
	}
	_, raw := openStore(t, srv)
	raw = raw.Client().Database(name)

	s1 := open(k1)
	tok := models.ProviderToken{Flow: "oauth1", AccessToken: "access-secret-value", TokenSecret: "token-secret-value"}
	u, err := s1.UpsertTwitterUser(ctx, models.TwitterProfile{ID: "42", Handle: "h"}, tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if u.Token == nil || u.Token.AccessToken != tok.AccessToken || u.Token.TokenSecret != tok.TokenSecret {
		t.Fatalf("upsert returned token %+v", u.Token)
	}
	stored := tokenDoc(t, mustRaw(t, raw, "users", u.ID))
	for _, f := range []string{"access_token", "token_secret"} {
		v, _ := stored[f].(string)
		if !strings.HasPrefix(v, "enc:v1:k1:") || strings.Contains(v, "secret-value") {
			t.Errorf("stored %s = %q, want ciphertext under k1", f, v)
		}
	}
	if got, err := s1.UserByID(ctx, u.ID); err != nil || got.Token.AccessToken != tok.AccessToken {
		t.Fatalf("UserByID token = %+v, %v", got.Token, err)
	}

	// Ciphertexts are bound to their user.
	other := mustUpsert(t, s1, "43", time.Now())
	if _, err := raw.Collection("users").UpdateOne(ctx, bson.D{{Key: "_id", Value: other.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "token", Value: stored}}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s1.UserByID(ctx, other.ID); err != nil || got.Token != nil {
		t.Errorf("another user's ciphertext opened: %+v, %v", got.Token, err)
	}

	// Rotation: k2 first, k1 still listed; re-encrypt; then k1 can go.
	s2 := open(k2, k1)
	if got, err := s2.UserByID(ctx, u.ID); err != nil || got.Token.TokenSecret != tok.TokenSecret {
		t.Fatalf("with k2,k1: %+v, %v", got.Token, err)
	}
	n, err := s2.ReencryptTokens(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ReencryptTokens = %d, %v; want 1 (user 42; user 43's token does not open)", n, err)
	}
	if v, _ := tokenDoc(t, mustRaw(t, raw, "users", u.ID))["access_token"].(string); !strings.HasPrefix(v, "enc:v1:k2:") {
		t.Errorf("after re-encryption access_token = %q", v)
	}
	if got, err := open(k2).UserByID(ctx, u.ID); err != nil || got.Token.AccessToken != tok.AccessToken {
		t.Errorf("with k2 only: %+v, %v", got.Token, err)
	}
	if got, err := open(k1).UserByID(ctx, u.ID); err != nil || got.Token != nil {
		t.Errorf("with k1 only, a k2 token should be dropped: %+v, %v", got.Token, err)
	}
}

// tokenDoc returns the stored token subdocument of a raw user.
func tokenDoc(t *testing.T, user bson.M) bson.M {
	t.Helper()
	m := bson.M{}
	switch d := user["token"].(type) {
	case bson.D:
		for _, e := range d {
			m[e.Key] = e.Value
		}
	case bson.M:
		m = d
	default:
		t.Fatalf("token is %T", user["token"])
	}
	return m
}
