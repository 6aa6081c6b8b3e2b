package models

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Service tokens carry their issue time (iat) in whole seconds, and the
// user's cutoff is stored to the millisecond. A token whose iat is in
// the same second as the cutoff may have been issued just before it or
// just after it, so such tokens are refused, and the issuer never issues
// one: while the clock is in the cutoff's second it waits for the next
// ([User.TokenIssueAfter]). So a token issued after a cutoff always has
// a later iat second, and every token issued before it is refused.

// RevokeTokens records that the service tokens of user id issued up to
// at are revoked, as at "log out everywhere". The cutoff only moves
// forward. It is one update by _id. It fails with [ErrNotFound] if there
// is no such user.
func (s *Store) RevokeTokens(ctx context.Context, id bson.ObjectID, at time.Time) error {
	res, err := s.users.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "tokens_revoked_at", Value: normTime(at)}}}})
	if err != nil {
		return fmt.Errorf("revoke tokens of user %s: %w", id.Hex(), storeError(err))
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("revoke tokens of user %s: %w", id.Hex(), ErrNotFound)
	}
	return nil
}

// TokenRevoked reports whether a service token of u issued at iat (whole
// seconds, as in the token) must be refused: iat is in or before the
// second of u's last revocation ([Store.RevokeTokens]), or before the
// second u was created. The latter refuses tokens of an earlier account
// with the same Twitter id, deleted and signed up again: the cutoff went
// with the deleted document, but its tokens are all older than the new
// one. (A token issued in the very second the new account was created
// would pass, but an account cannot be deleted and signed up again
// through Twitter within one second.)
func (u *User) TokenRevoked(iat time.Time) bool {
	sec := iat.Truncate(time.Second)
	if !u.TokensRevokedAt.IsZero() && !sec.After(u.TokensRevokedAt.Truncate(time.Second)) {
		return true
	}
	return sec.Before(u.CreatedAt.Truncate(time.Second))
}

// TokenIssueAfter returns the earliest time, not before now, at which a
// service token of u may be issued so that [User.TokenRevoked] accepts
// it: now, or the start of the second after u's last revocation when now
// is in (or, with clocks apart, before) that second.
func (u *User) TokenIssueAfter(now time.Time) time.Time {
	if u.TokensRevokedAt.IsZero() {
		return now
	}
	next := u.TokensRevokedAt.Truncate(time.Second).Add(time.Second)
	if now.Before(next) {
		return next
	}
	return now
}
