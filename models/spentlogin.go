package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// spentLoginsCollection remembers the login states (the sealed handshake
// cookies of sign-ins in flight) whose callback has been used, so that a
// kept copy of the cookie cannot be replayed: a second redemption of the
// same code or verifier makes Twitter revoke the user's whole grant.
const spentLoginsCollection = "spent_logins"

// SpentLoginGrace is how long after its login state expires a spent
// record is kept: instances' clocks may disagree a little on when the
// state expired.
const SpentLoginGrace = time.Minute

// ErrAlreadySpent is returned (wrapped) by [Store.SpendLoginState] for a
// login state that was used before.
var ErrAlreadySpent = errors.New("models: already spent")

// spentLogin is a used login state. Its _id starts with the state's
// expiry in Unix seconds, zero-padded, so that expired ones are a range
// of _id ([Store.DeleteSpentLogins]).
type spentLogin struct {
	ID        string    `bson:"_id"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// spentLoginPrefix is the start of the _id of states expiring at unix.
func spentLoginPrefix(unix int64) string {
	return fmt.Sprintf("%012d:", max(unix, 0))
}

func (s *Store) spentLogins() collection {
	return s.collection(spentLoginsCollection)
}

// SpendLoginState records that the login state with the random nonce,
// valid until expires, has been used: one insert by _id, which is atomic
// on every store (updates and upserts are not atomic on FerretDB). A
// state spent before fails with [ErrAlreadySpent]; an unreachable store
// with [ErrUnavailable]. The nonce is random and reveals nothing.
func (s *Store) SpendLoginState(ctx context.Context, nonce string, expires time.Time) error {
	if nonce == "" {
		return errors.New("spend login state: nonce is required")
	}
	doc := spentLogin{ID: spentLoginPrefix(expires.Unix()) + nonce, ExpiresAt: normTime(expires)}
	_, err := s.spentLogins().InsertOne(ctx, doc)
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("spend login state: %w", ErrAlreadySpent)
	} else if err != nil {
		return fmt.Errorf("spend login state: %w", storeError(err))
	}
	return nil
}

// DeleteSpentLogins deletes the records of login states that expired
// more than [SpentLoginGrace] before now, and returns how many: a range
// of _id, which MongoDB answers from the _id index and FerretDB by
// scanning this small collection. Call it every few minutes, never per
// request; where the server has TTL indexes, one deletes them too.
func (s *Store) DeleteSpentLogins(ctx context.Context, now time.Time) (int64, error) {
	bound := spentLoginPrefix(now.Add(-SpentLoginGrace).Unix())
	res, err := s.spentLogins().DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: bound}}}})
	if err != nil {
		return 0, fmt.Errorf("delete spent logins: %w", storeError(err))
	}
	return res.DeletedCount, nil
}

// ensureSpentLoginIndexes creates the collection, and a TTL index on
// expires_at where the server has TTL indexes; FerretDB's refusal is
// logged at debug level, since [Store.DeleteSpentLogins] cleans up
// anyway.
func (s *Store) ensureSpentLoginIndexes(ctx context.Context) error {
	if err := createCollection(ctx, s.users.Database(), spentLoginsCollection); err != nil {
		return err
	}
	return s.ensureTTLIndex(ctx, s.spentLogins(), "expires_at", SpentLoginGrace,
		"spent login states stay until DeleteSpentLogins")
}
