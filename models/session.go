package models

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Session is one signed-in browser. Its ID is derived from its user and
// its number Seq (seq.go), so that the user's sessions can be listed by
// _id lookups; the Secret, random, is what makes the session's [Session.Key]
// unguessable. A session counts only until ExpiresAt, whatever the store's
// TTL support.
type Session struct {
	ID        string        `bson:"_id"`
	Secret    string        `bson:"secret"`
	UserID    bson.ObjectID `bson:"user_id"`
	Seq       int64         `bson:"seq"`
	CreatedAt time.Time     `bson:"created_at"`
	ExpiresAt time.Time     `bson:"expires_at"`
	// LastSeen is when the session was last used, to within
	// [LastSeenGranularity]; zero until then.
	LastSeen  time.Time `bson:"last_seen,omitempty"`
	UserAgent string    `bson:"user_agent,omitempty"`
}

// Key is what a client presents for the session: its ID and its secret.
// [Store.SessionByID] takes it.
func (s *Session) Key() string { return s.ID + "." + s.Secret }

// SessionIDOf returns the session ID in key (a [Session.Key]), or key
// itself if it is an ID.
func SessionIDOf(key string) string {
	id, _, _ := strings.Cut(key, ".")
	return id
}

// CreateSession stores a new session of sess.UserID with the times and
// user agent of sess, and returns it with its ID, number and secret. Its
// times are stored in UTC at millisecond precision. It fails if
// sess.UserID is zero.
func (s *Store) CreateSession(ctx context.Context, sess Session) (*Session, error) {
	return s.StartSession(ctx, sess, nil)
}

// StartSession is [Store.CreateSession] and, if ev is not nil,
// [Store.RecordEvent] of ev for the same user, as at a sign-in: the two
// share one digest, so they cost one digest read and one digest write.
// The session is stored first; if the event then fails, the session
// stands and the failure is returned wrapped with the session.
func (s *Store) StartSession(ctx context.Context, sess Session, ev *Event) (*Session, error) {
	if sess.UserID.IsZero() || (ev != nil && ev.Kind == "") {
		return nil, errors.New("start session: user id and event kind are required")
	}
	user := sess.UserID
	defer s.appends.lock(s.eventFeed.digestID(user))()
	d, err := s.sessionNumbers(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	sess.CreatedAt = normTime(sess.CreatedAt)
	sess.ExpiresAt = normTime(sess.ExpiresAt)
	sess.LastSeen = time.Time{}
	sessionID := func(seq int64) any { return seqID(user, seq).Hex() }
	seq, err := insertNext(ctx, s.sessions, d.Sessions.Seq+1, sessionID, func(seq int64) any {
		sess.Seq, sess.ID, sess.Secret = seq, seqID(user, seq).Hex(), rand.Text()
		return sess
	})
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	n := sessionNumbers{Seq: max(d.Sessions.Seq, seq), Low: d.Sessions.Low}
	if n.Low == 0 {
		n.Low = seq
	}
	d.Sessions = &n
	if ev == nil {
		s.saveSessionNumbers(ctx, d.ID, n)
		return &sess, nil
	}
	ev.UserID = user
	stored, d, err := s.eventFeed.appendTo(ctx, user, d, ev.numbered)
	s.eventFeed.save(ctx, d) // the session numbers, and the event if it was stored
	if err == nil {
		err = s.trimEvents(ctx, stored)
	}
	if err != nil {
		return &sess, fmt.Errorf("start session: record event: %w", err)
	}
	return &sess, nil
}

// SessionByID returns the session whose [Session.Key] is key if it is
// still valid at now. It fails with [ErrNotFound] if there is no such
// session, the secret does not match, or it has expired (ExpiresAt <=
// now); expiry is checked here, never left to a TTL index, which runs
// late on MongoDB and not at all on FerretDB.
func (s *Store) SessionByID(ctx context.Context, key string, now time.Time) (*Session, error) {
	id, secret, ok := strings.Cut(key, ".")
	if !ok || id == "" || secret == "" {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	var sess Session
	if err := s.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&sess); err != nil {
		return nil, fmt.Errorf("session: %w", storeError(err))
	}
	if subtle.ConstantTimeCompare([]byte(sess.Secret), []byte(secret)) != 1 {
		return nil, fmt.Errorf("session: wrong secret: %w", ErrNotFound)
	}
	sess.normalize()
	if !sess.ExpiresAt.After(now) {
		return nil, fmt.Errorf("session: expired: %w", ErrNotFound)
	}
	return &sess, nil
}

func (sess *Session) normalize() {
	sess.CreatedAt = normTime(sess.CreatedAt)
	sess.ExpiresAt = normTime(sess.ExpiresAt)
	sess.LastSeen = normTime(sess.LastSeen)
}

// DeleteSession deletes the session with the given ID (or [Session.Key]),
// as at logout. Deleting a missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.sessions.DeleteOne(ctx, bson.D{{Key: "_id", Value: SessionIDOf(id)}}); err != nil {
		return fmt.Errorf("delete session: %w", storeError(err))
	}
	return nil
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
