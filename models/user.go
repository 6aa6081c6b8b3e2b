package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TwitterProfile is what Twitter says about the user signing in.
type TwitterProfile struct {
	// ID is Twitter's immutable user id as a decimal string (id_str, or
	// data.id in API v2). Users are keyed by it, never by Handle.
	ID string
	// Handle is the @screen_name, without the "@"; it can change.
	Handle string
	// Name is the display name.
	Name string
	// AvatarURL is the profile image URL; empty when there is none.
	AvatarURL string
}

// ProviderToken is the credential Twitter issued at sign-in, kept so it can
// be revoked at logout.
type ProviderToken struct {
	// Flow names the login flow that issued the token ("oauth1", "oauth2").
	Flow string `bson:"flow"`
	// AccessToken is the OAuth 1.0a or OAuth 2 access token.
	AccessToken string `bson:"access_token,omitempty"`
	// TokenSecret is the OAuth 1.0a token secret.
	TokenSecret string `bson:"token_secret,omitempty"`
	// RefreshToken is the OAuth 2 refresh token, if one was issued.
	RefreshToken string `bson:"refresh_token,omitempty"`
	// Expiry is when the access token expires; zero if it does not.
	Expiry time.Time `bson:"expiry,omitempty"`
}

// User is one person, identified by their Twitter id. There is exactly one
// User document per Twitter id.
type User struct {
	ID        bson.ObjectID `bson:"_id" json:"id"`
	TwitterID string        `bson:"twitter_id" json:"twitter_id"`
	Handle    string        `bson:"handle" json:"handle"`
	Name      string        `bson:"name" json:"name"`
	AvatarURL string        `bson:"avatar_url" json:"avatar_url"`
	// Token is the provider credential; nil after [Store.ClearProviderToken].
	// It never leaves the server, so it has no JSON form.
	Token     *ProviderToken `bson:"token,omitempty" json:"-"`
	CreatedAt time.Time      `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time      `bson:"updated_at" json:"updated_at"`
}

func (u *User) normalize() {
	u.CreatedAt = normTime(u.CreatedAt)
	u.UpdatedAt = normTime(u.UpdatedAt)
	if u.Token != nil {
		u.Token.Expiry = normTime(u.Token.Expiry)
	}
}

// UpsertTwitterUser records a sign-in: it creates the user for p.ID if there
// is none, otherwise it updates the profile fields and the token, keeping
// the user's _id and created_at. It is one atomic FindOneAndUpdate with
// upsert, so there is one document per Twitter id; if two first sign-ins
// race and one loses on the unique index, it is retried once as an update.
// It returns the user as stored. It fails if p.ID is empty, and with
// [ErrUnavailable] if the store cannot be reached.
func (s *Store) UpsertTwitterUser(ctx context.Context, p TwitterProfile, tok ProviderToken, now time.Time) (*User, error) {
	if p.ID == "" {
		return nil, errors.New("upsert twitter user: empty twitter id")
	}
	now = normTime(now)
	tok.Expiry = normTime(tok.Expiry)

	// Every user-supplied string is a value in $set, never a key or an
	// operator, so "$where" or {"$gt": ""} in a name is stored literally.
	filter := bson.D{{Key: "twitter_id", Value: p.ID}}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "handle", Value: p.Handle},
			{Key: "name", Value: p.Name},
			{Key: "avatar_url", Value: p.AvatarURL},
			{Key: "token", Value: tok},
			{Key: "updated_at", Value: now},
		}},
		{Key: "$setOnInsert", Value: bson.D{
			// An explicit ObjectID: FerretDB and MongoDB agree on its type.
			{Key: "_id", Value: bson.NewObjectID()},
			{Key: "created_at", Value: now},
		}},
	}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)

	var u User
	err := s.users.FindOneAndUpdate(ctx, filter, update, opts).Decode(&u)
	if mongo.IsDuplicateKeyError(err) {
		// Another first sign-in for the same id inserted between our
		// match and our insert; the document exists now, so this updates it.
		err = s.users.FindOneAndUpdate(ctx, filter, update, opts).Decode(&u)
	}
	if err != nil {
		return nil, fmt.Errorf("upsert twitter user %s: %w", p.ID, storeError(err))
	}
	u.normalize()
	return &u, nil
}

// UserByID returns the user with the given _id. It fails with [ErrNotFound]
// if there is none.
func (s *Store) UserByID(ctx context.Context, id bson.ObjectID) (*User, error) {
	var u User
	if err := s.users.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&u); err != nil {
		return nil, fmt.Errorf("user %s: %w", id.Hex(), storeError(err))
	}
	u.normalize()
	return &u, nil
}

// UserByTwitterID returns the user with the given Twitter id. It fails with
// [ErrNotFound] if there is none. Prefer [Store.UserByID] on hot paths: on
// FerretDB only _id lookups avoid decoding every user.
func (s *Store) UserByTwitterID(ctx context.Context, twitterID string) (*User, error) {
	if twitterID == "" {
		return nil, fmt.Errorf("user by twitter id: %w", ErrNotFound)
	}
	var u User
	if err := s.users.FindOne(ctx, bson.D{{Key: "twitter_id", Value: twitterID}}).Decode(&u); err != nil {
		return nil, fmt.Errorf("user by twitter id %s: %w", twitterID, storeError(err))
	}
	u.normalize()
	return &u, nil
}

// ClearProviderToken removes the user's stored provider token, as at
// logout. Clearing an already cleared token is not an error; it fails with
// [ErrNotFound] if there is no such user.
func (s *Store) ClearProviderToken(ctx context.Context, id bson.ObjectID) error {
	res, err := s.users.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "token", Value: ""}}}})
	if err != nil {
		return fmt.Errorf("clear provider token of user %s: %w", id.Hex(), storeError(err))
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("clear provider token of user %s: %w", id.Hex(), ErrNotFound)
	}
	return nil
}

// DeleteUser deletes the user together with their sessions and records.
// Sessions go first, so access ends at once, and the user last, so a call
// that fails half way can simply be repeated. Without transactions
// (FerretDB has none) a session or record written concurrently with the
// deletion can outlive the user; sessions of a missing user are refused
// anyway because the user lookup fails. It fails with [ErrNotFound] if there
// is no such user.
func (s *Store) DeleteUser(ctx context.Context, id bson.ObjectID) error {
	if _, err := s.DeleteUserSessions(ctx, id); err != nil {
		return fmt.Errorf("delete user %s: %w", id.Hex(), err)
	}
	if _, err := s.records.DeleteMany(ctx, bson.D{{Key: "owner_id", Value: id}}); err != nil {
		return fmt.Errorf("delete user %s: records: %w", id.Hex(), storeError(err))
	}
	res, err := s.users.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", id.Hex(), storeError(err))
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("delete user %s: %w", id.Hex(), ErrNotFound)
	}
	return nil
}
