package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Session is one signed-in browser. Its ID is a random, unguessable string
// chosen by the caller; a session counts only until ExpiresAt, whatever the
// store's TTL support.
type Session struct {
	ID        string        `bson:"_id"`
	UserID    bson.ObjectID `bson:"user_id"`
	CreatedAt time.Time     `bson:"created_at"`
	ExpiresAt time.Time     `bson:"expires_at"`
	// LastSeen is when the session was last used, to within
	// [LastSeenGranularity]; zero until then.
	LastSeen  time.Time `bson:"last_seen,omitempty"`
	UserAgent string    `bson:"user_agent,omitempty"`
}

// CreateSession stores a new session. Its times are stored in UTC at
// millisecond precision. It fails if sess.ID is empty or already used.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	if sess.ID == "" {
		return errors.New("create session: empty session id")
	}
	sess.CreatedAt = normTime(sess.CreatedAt)
	sess.ExpiresAt = normTime(sess.ExpiresAt)
	if _, err := s.sessions.InsertOne(ctx, sess); err != nil {
		return fmt.Errorf("create session: %w", storeError(err))
	}
	return nil
}

// SessionByID returns the session with the given id if it is still valid at
// now. It fails with [ErrNotFound] if there is no such session or it has
// expired (ExpiresAt <= now); expiry is checked here, never left to a TTL
// index, which runs late on MongoDB and not at all on FerretDB.
func (s *Store) SessionByID(ctx context.Context, id string, now time.Time) (*Session, error) {
	if id == "" {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	var sess Session
	if err := s.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&sess); err != nil {
		return nil, fmt.Errorf("session: %w", storeError(err))
	}
	sess.CreatedAt = normTime(sess.CreatedAt)
	sess.ExpiresAt = normTime(sess.ExpiresAt)
	sess.LastSeen = normTime(sess.LastSeen)
	if !sess.ExpiresAt.After(now) {
		return nil, fmt.Errorf("session: expired: %w", ErrNotFound)
	}
	return &sess, nil
}

// DeleteSession deletes the session with the given id, as at logout.
// Deleting a missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.sessions.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("delete session: %w", storeError(err))
	}
	return nil
}

// DeleteUserSessions deletes every session of the user, signing them out
// everywhere, and returns how many there were.
func (s *Store) DeleteUserSessions(ctx context.Context, userID bson.ObjectID) (int64, error) {
	res, err := s.sessions.DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %s: %w", userID.Hex(), storeError(err))
	}
	return res.DeletedCount, nil
}

// DeleteExpiredSessions deletes the sessions that have expired at now
// (ExpiresAt <= now), recording a session-ended event ("expired") for each
// one it deleted, and returns how many. Each session is deleted on its
// own, so when several instances run it at once every expiry is recorded
// exactly once. Call it every minute or so: the TTL index is only a
// backstop an hour later ([sessionTTLGrace]), so that users see their
// sessions expire in their activity.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	// Stored times are whole milliseconds, so "<= now truncated" is exactly
	// the same test as SessionByID's "<= now".
	expired := bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: normTime(now)}}}}
	cur, err := s.sessions.Find(ctx, expired, options.Find().SetLimit(expiredBatch))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", storeError(err))
	}
	var batch []Session
	if err := cur.All(ctx, &batch); err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", storeError(err))
	}
	var n int64
	for _, sess := range batch {
		res, err := s.sessions.DeleteOne(ctx, bson.D{{Key: "_id", Value: sess.ID}})
		if err != nil {
			return n, fmt.Errorf("delete expired sessions: %w", storeError(err))
		}
		if res.DeletedCount == 0 {
			continue // another instance got it first, and records it
		}
		n++
		ev := Event{UserID: sess.UserID, Kind: EventSessionEnded, At: normTime(sess.ExpiresAt), Detail: "expired"}
		if err := s.RecordEvent(ctx, ev); err != nil {
			return n, fmt.Errorf("delete expired sessions: %w", err)
		}
	}
	return n, nil
}

// expiredBatch bounds one pass of [Store.DeleteExpiredSessions].
const expiredBatch = 1000
