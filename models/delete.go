package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Deleting an account (issue 13) runs in an order that leaves no orphan
// if the process dies half way: a deletion marker is written first (the
// deletions collection, _id = the user's _id), then the user's Twitter
// credential moves to the revocation outbox and the data goes, the user
// document last, and then the marker. Whoever finds a marker (the
// start-up sweep, [Store.PendingDeletions]) runs [Store.DeleteAccount]
// again: every step is idempotent.
//
// What is left naming the user afterwards, by design: the outbox entry of
// the credential until it is revoked at Twitter (the outbox deletes it
// then), and the change-feed entry that tells other instances to drop the
// user's sessions, until the feed's own clean-up removes it
// ([ChangeRetention]). Spent login states name no user.

// deletionsCollection holds the markers of deletions in progress.
const deletionsCollection = "deletions"

// DeletionReason is the outbox reason of a credential revoked because
// its account was deleted. The outbox records no activity event for it:
// there is no account left to record it in.
const DeletionReason = "account deleted"

// deletionMarker is a deletion in progress.
type deletionMarker struct {
	ID        bson.ObjectID `bson:"_id"`
	StartedAt time.Time     `bson:"started_at"`
}

// Deletion is what [Store.DeleteAccount] removed.
type Deletion struct {
	// Records, Sessions and Events count the user's documents deleted.
	Records, Sessions, Events int64
	// UserFound is false when the user document was gone already (a
	// repeated deletion, or one the sweep finished).
	UserFound bool
	// OutboxID is the outbox entry of the Twitter credential, "" when
	// the user had none stored.
	OutboxID string
}

func (s *Store) deletions() collection {
	return s.collection(deletionsCollection)
}

// DeleteAccount deletes user id and everything that names them: it writes
// the deletion marker, ends the service tokens issued so far
// ([Store.RevokeTokens]), moves the Twitter credential to the revocation
// outbox (meta gives its details; the reason is [DeletionReason]), deletes
// the sessions, records, activity events, digests and token refresh
// claims, then the user, then the marker. It scans the collections by
// user: deletion is rare. Calling it again, or for a user already gone,
// is safe. Publishing the change to other instances is the caller's.
func (s *Store) DeleteAccount(ctx context.Context, id bson.ObjectID, meta Revocation, now time.Time) (Deletion, error) {
	var d Deletion
	marker := deletionMarker{ID: id, StartedAt: normTime(now)}
	if _, err := s.deletions().InsertOne(ctx, marker); err != nil && !mongo.IsDuplicateKeyError(err) {
		return d, fmt.Errorf("delete account %s: marker: %w", id.Hex(), storeError(err))
	}
	if err := s.RevokeTokens(ctx, id, now); err != nil && !errors.Is(err, ErrNotFound) {
		return d, fmt.Errorf("delete account %s: %w", id.Hex(), err)
	}
	meta.Reason = DeletionReason
	outboxID, err := s.MoveTokenToOutbox(ctx, id, meta, now)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return d, fmt.Errorf("delete account %s: %w", id.Hex(), err)
	}
	d.OutboxID = outboxID
	err = s.deleteUserData(ctx, id, &d)
	// Even half done: the cached digest may name deleted records.
	s.recordFeed.cache.drop(id)
	if err != nil {
		return d, fmt.Errorf("delete account %s: %w", id.Hex(), err)
	}
	if _, err := s.deletions().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return d, fmt.Errorf("delete account %s: marker: %w", id.Hex(), storeError(err))
	}
	return d, nil
}

// deleteUserData deletes the user's documents, the user document last,
// and counts them into d. Sessions go first, so access ends first.
func (s *Store) deleteUserData(ctx context.Context, id bson.ObjectID, d *Deletion) error {
	steps := []struct {
		name   string
		coll   collection
		filter bson.D
		count  *int64
	}{
		{"sessions", s.sessions, bson.D{{Key: "user_id", Value: id}}, &d.Sessions},
		{"records", s.records, bson.D{{Key: "owner_id", Value: id}}, &d.Records},
		{"events", s.events(), bson.D{{Key: "user_id", Value: id}}, &d.Events},
		{"digests", s.recent, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: s.digestIDs(id)}}}}, nil},
		{"refresh claims", s.collection(tokenClaimsCollection), bson.D{{Key: "user_id", Value: id}}, nil},
	}
	for _, st := range steps {
		res, err := st.coll.DeleteMany(ctx, st.filter)
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, storeError(err))
		}
		if st.count != nil {
			*st.count = res.DeletedCount
		}
	}
	res, err := s.users.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("user: %w", storeError(err))
	}
	d.UserFound = res.DeletedCount == 1
	return nil
}

// PendingDeletions returns the users whose deletion was started and not
// finished (the process died half way): finish each with
// [Store.DeleteAccount]. It scans the (nearly always empty) markers.
func (s *Store) PendingDeletions(ctx context.Context) ([]bson.ObjectID, error) {
	cur, err := s.deletions().Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("pending deletions: %w", storeError(err))
	}
	var markers []deletionMarker
	if err := cur.All(ctx, &markers); err != nil {
		return nil, fmt.Errorf("pending deletions: %w", storeError(err))
	}
	ids := make([]bson.ObjectID, len(markers))
	for i, m := range markers {
		ids[i] = m.ID
	}
	return ids, nil
}

// FindUser returns the user named by who: a Twitter id ("12345") or a
// handle ("@someone", case-insensitive). A handle scans the users: this
// is for operators, never for requests. It fails with [ErrNotFound] if
// there is no such user, and when two users have the handle (one of them
// renamed since their last sign-in) with an error asking for the id.
// The user it returns holds no Twitter credential.
func (s *Store) FindUser(ctx context.Context, who string) (*User, error) {
	who = strings.TrimSpace(who)
	handle, isHandle := strings.CutPrefix(who, "@")
	if !isHandle {
		if _, err := UserIDFor(who); err != nil {
			return nil, fmt.Errorf("find user %q: give a Twitter id or an @handle: %w", who, ErrNotFound)
		}
		u, err := s.UserByTwitterID(ctx, who)
		if u != nil {
			u.Token = nil // never needed here
		}
		return u, err
	}
	cur, err := s.users.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("find user %q: %w", who, storeError(err))
	}
	defer cur.Close(ctx)
	var found []User
	for cur.Next(ctx) {
		var u User
		if err := cur.Decode(&u); err != nil {
			return nil, fmt.Errorf("find user %q: %w", who, storeError(err))
		}
		if handle != "" && strings.EqualFold(u.Handle, handle) {
			u.Token = nil // never needed here; it stays sealed
			found = append(found, u)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("find user %q: %w", who, storeError(err))
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("find user %q: %w", who, ErrNotFound)
	case 1:
		found[0].normalize()
		return &found[0], nil
	}
	return nil, fmt.Errorf("find user %q: %d users have that handle; give the Twitter id", who, len(found))
}
