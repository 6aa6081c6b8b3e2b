package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// tokenClaimsCollection holds the claims of instances refreshing a
// provider token ([Store.ClaimTokenRefresh]).
const tokenClaimsCollection = "token_refresh_claims"

// ReplaceProviderToken replaces the user's provider token with tok, stamped
// with generation oldGeneration+1, but only if the stored token still has
// oldGeneration. won is false, with a nil error, when the stored token has
// another generation or is gone (refreshed elsewhere, signed in again,
// signed out) or the user does not exist. The condition is atomic on
// MongoDB; FerretDB evaluates filter and update separately, so instances
// that must not both act on one generation take [Store.ClaimTokenRefresh]
// first.
func (s *Store) ReplaceProviderToken(ctx context.Context, id bson.ObjectID, oldGeneration int64, tok ProviderToken) (won bool, err error) {
	tok.Generation = oldGeneration + 1
	tok.Expiry = normTime(tok.Expiry)
	res, err := s.users.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "token.generation", Value: oldGeneration}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "token", Value: s.tokens.seal(id, tok)}}}})
	if err != nil {
		return false, fmt.Errorf("replace provider token of user %s: %w", id.Hex(), storeError(err))
	}
	return res.MatchedCount == 1, nil
}

// ClearProviderTokenGeneration removes the user's provider token if it
// still has generation, as when Twitter refuses to refresh it; a token
// replaced in the meantime (a new sign-in) is kept. It reports whether it
// removed one.
func (s *Store) ClearProviderTokenGeneration(ctx context.Context, id bson.ObjectID, generation int64) (bool, error) {
	res, err := s.users.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "token.generation", Value: generation}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "token", Value: ""}}}})
	if err != nil {
		return false, fmt.Errorf("clear provider token of user %s: %w", id.Hex(), storeError(err))
	}
	return res.MatchedCount == 1, nil
}

// tokenClaim is one instance's claim to refresh one generation of a
// user's provider token.
type tokenClaim struct {
	ID     string        `bson:"_id"` // user id hex ":" generation
	UserID bson.ObjectID `bson:"user_id"`
	Until  time.Time     `bson:"until"`
}

func claimID(id bson.ObjectID, generation int64) string {
	return id.Hex() + ":" + strconv.FormatInt(generation, 10)
}

// ClaimTokenRefresh claims the right to refresh generation of the user's
// provider token until until, so that of several instances exactly one
// spends a single-use refresh token. The claim is an insert with a
// deterministic _id, which is atomic on MongoDB and FerretDB alike. won is
// false when another claim for that generation holds; a claim whose holder
// let it lapse (past until at now) is taken over. Release it with
// [Store.ReleaseTokenRefresh].
func (s *Store) ClaimTokenRefresh(ctx context.Context, id bson.ObjectID, generation int64, until, now time.Time) (won bool, err error) {
	claims := s.collection(tokenClaimsCollection)
	c := tokenClaim{ID: claimID(id, generation), UserID: id, Until: normTime(until)}
	for attempt := 0; attempt < 2; attempt++ {
		_, err = claims.InsertOne(ctx, c)
		if err == nil {
			return true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return false, fmt.Errorf("claim token refresh of user %s: %w", id.Hex(), storeError(err))
		}
		// Taken. Take it over only if its holder let it lapse.
		res, err := claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "until", Value: bson.D{{Key: "$lt", Value: normTime(now)}}}})
		if err != nil {
			return false, fmt.Errorf("claim token refresh of user %s: %w", id.Hex(), storeError(err))
		}
		if res.DeletedCount == 0 {
			return false, nil
		}
	}
	return false, nil
}

// ReleaseTokenRefresh removes the claim on generation of the user's
// provider token. Releasing a released claim is not an error.
func (s *Store) ReleaseTokenRefresh(ctx context.Context, id bson.ObjectID, generation int64) error {
	claims := s.collection(tokenClaimsCollection)
	if _, err := claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: claimID(id, generation)}}); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("release token refresh of user %s: %w", id.Hex(), storeError(err))
	}
	return nil
}
