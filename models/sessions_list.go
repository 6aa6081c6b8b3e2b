package models

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// LastSeenGranularity is how stale [Session.LastSeen] may be: a session is
// touched at most this often, so activity costs no write per request.
const LastSeenGranularity = time.Minute

// maxListedSessions bounds [Store.SessionsByUser].
const maxListedSessions = 100

// SessionsByUser returns the user's live sessions at now, most recently
// created first (at most 100).
func (s *Store) SessionsByUser(ctx context.Context, userID bson.ObjectID, now time.Time) ([]Session, error) {
	cur, err := s.sessions.Find(ctx,
		bson.D{{Key: "user_id", Value: userID}, {Key: "expires_at", Value: bson.D{{Key: "$gt", Value: normTime(now)}}}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: 1}}).SetLimit(maxListedSessions))
	if err != nil {
		return nil, fmt.Errorf("sessions of user %s: %w", userID.Hex(), storeError(err))
	}
	out := []Session{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("sessions of user %s: %w", userID.Hex(), storeError(err))
	}
	for i := range out {
		out[i].CreatedAt = normTime(out[i].CreatedAt)
		out[i].ExpiresAt = normTime(out[i].ExpiresAt)
		out[i].LastSeen = normTime(out[i].LastSeen)
	}
	return out, nil
}

// TouchSession records that session id was used at now. Callers touch a
// session at most every [LastSeenGranularity] (comparing with the
// LastSeen they loaded), so activity costs no write per request; the
// filter is on _id alone, which every store looks up cheaply. Touching a
// missing session is not an error.
func (s *Store) TouchSession(ctx context.Context, id string, now time.Time) error {
	_, err := s.sessions.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_seen", Value: normTime(now)}}}})
	if err != nil {
		return fmt.Errorf("touch session: %w", storeError(err))
	}
	return nil
}

// DeleteUserSession deletes session id if it belongs to userID, and
// reports whether it did. A user can end their own sessions only.
func (s *Store) DeleteUserSession(ctx context.Context, userID bson.ObjectID, id string) (bool, error) {
	res, err := s.sessions.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}})
	if err != nil {
		return false, fmt.Errorf("delete session of user %s: %w", userID.Hex(), storeError(err))
	}
	return res.DeletedCount == 1, nil
}
