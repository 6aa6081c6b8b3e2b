package models

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// LastSeenGranularity is how stale [Session.LastSeen] may be: a session is
// touched at most this often, so activity costs no write per request.
const LastSeenGranularity = time.Minute

// maxListedSessions bounds [Store.SessionsByUser].
const maxListedSessions = 100

// Listing a user's sessions reads every number from the oldest that may
// still be live (the digest's Low) to the newest, and a few beyond in
// case the digest is behind: sessions are deleted at logout, so their
// numbers have holes, and a listing cannot stop at the first one.
const (
	// sessionProbeBeyond is how many free numbers in a row end a listing.
	sessionProbeBeyond = 3
	// maxSessionProbes bounds the lookups of one listing; a user with
	// more sessions in range is listed by a scan instead.
	maxSessionProbes = 1000
)

// sessionNumbers are the numbers of a user's sessions: Seq the newest
// taken, Low the oldest that may still be live. They are kept in the
// user's events digest, which a sign-in writes anyway.
type sessionNumbers struct {
	Seq int64 `bson:"seq"`
	Low int64 `bson:"low"`
}

// sessionNumbers reads the user's events digest and their session numbers
// in it, rebuilt from a scan of the user's sessions if it has none yet.
// Call it with the events digest's lock held.
func (s *Store) sessionNumbers(ctx context.Context, user bson.ObjectID) (digest[Event], error) {
	d, err := s.eventFeed.load(ctx, user)
	if err != nil || d.Sessions != nil {
		return d, err
	}
	cur, err := s.sessions.Find(ctx, bson.D{{Key: "user_id", Value: user}},
		options.Find().SetProjection(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return d, fmt.Errorf("rebuild session numbers: %w", storeError(err))
	}
	var all []struct {
		Seq int64 `bson:"seq"`
	}
	if err := cur.All(ctx, &all); err != nil {
		return d, fmt.Errorf("rebuild session numbers: %w", storeError(err))
	}
	n := sessionNumbers{}
	for _, x := range all {
		n.Seq = max(n.Seq, x.Seq)
		if x.Seq > 0 && (n.Low == 0 || x.Seq < n.Low) {
			n.Low = x.Seq
		}
	}
	d.Sessions = &n
	s.saveSessionNumbers(ctx, d.ID, n)
	return d, nil
}

// saveSessionNumbers writes n into digest id; a failure is only logged,
// since a listing repairs it.
func (s *Store) saveSessionNumbers(ctx context.Context, id string, n sessionNumbers) {
	_, err := s.recent.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "sessions", Value: n}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		s.log.WarnContext(ctx, "session numbers not saved; the next listing repairs them", slog.Any("error", storeError(err)))
	}
}

// userSession returns session number seq of user, or nil if there is none.
func (s *Store) userSession(ctx context.Context, user bson.ObjectID, seq int64) (*Session, error) {
	sess, err := findByID[Session](ctx, s.sessions, seqID(user, seq).Hex())
	if sess == nil || err != nil || sess.UserID != user {
		return nil, err
	}
	sess.normalize()
	return sess, nil
}

// userSessions returns the user's sessions that exist, live or expired,
// by _id lookups over the digest's range, and saves the digest's range
// narrowed to what it found.
func (s *Store) userSessions(ctx context.Context, user bson.ObjectID) ([]Session, error) {
	defer s.appends.lock(s.eventFeed.digestID(user))()
	d, err := s.sessionNumbers(ctx, user)
	if err != nil {
		return nil, err
	}
	n := *d.Sessions
	was := n
	low := max(n.Low, 1)
	if n.Seq-low > maxSessionProbes {
		return s.scanUserSessions(ctx, user)
	}
	var out []Session
	misses := 0
	for seq := low; seq <= n.Seq || misses < sessionProbeBeyond; seq++ {
		sess, err := s.userSession(ctx, user, seq)
		if err != nil {
			return nil, err
		}
		if sess == nil {
			if seq > n.Seq {
				misses++
			}
			continue
		}
		misses = 0
		out = append(out, *sess)
		n.Seq = max(n.Seq, seq)
	}
	n.Low = n.Seq + 1
	if len(out) > 0 {
		n.Low = out[0].Seq
	}
	if n != was {
		s.saveSessionNumbers(ctx, d.ID, n)
	}
	return out, nil
}

// scanUserSessions reads the user's sessions with a filter on user_id.
func (s *Store) scanUserSessions(ctx context.Context, user bson.ObjectID) ([]Session, error) {
	cur, err := s.sessions.Find(ctx, bson.D{{Key: "user_id", Value: user}})
	if err != nil {
		return nil, storeError(err)
	}
	var out []Session
	if err := cur.All(ctx, &out); err != nil {
		return nil, storeError(err)
	}
	for i := range out {
		out[i].normalize()
	}
	return out, nil
}

// SessionsByUser returns the user's live sessions at now, most recently
// created first (at most 100). It reads each of the user's session
// numbers by _id (seq.go).
func (s *Store) SessionsByUser(ctx context.Context, userID bson.ObjectID, now time.Time) ([]Session, error) {
	all, err := s.userSessions(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("sessions of user %s: %w", userID.Hex(), err)
	}
	out := []Session{}
	for _, sess := range all {
		if sess.ExpiresAt.After(now) {
			out = append(out, sess)
		}
	}
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	if len(out) > maxListedSessions {
		out = out[:maxListedSessions]
	}
	return out, nil
}

// DeleteUserSessions deletes every session of the user, signing them out
// everywhere, and returns how many there were. Each is deleted by _id.
func (s *Store) DeleteUserSessions(ctx context.Context, userID bson.ObjectID) (int64, error) {
	all, err := s.userSessions(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %s: %w", userID.Hex(), err)
	}
	var n int64
	for _, sess := range all {
		res, err := s.sessions.DeleteOne(ctx, bson.D{{Key: "_id", Value: sess.ID}})
		if err != nil {
			return n, fmt.Errorf("delete sessions of user %s: %w", userID.Hex(), storeError(err))
		}
		n += res.DeletedCount
	}
	return n, nil
}

// DeleteUserSession deletes session id (an ID or a [Session.Key]) if it
// belongs to userID, and reports whether it did. A user can end their own
// sessions only.
func (s *Store) DeleteUserSession(ctx context.Context, userID bson.ObjectID, id string) (bool, error) {
	id = SessionIDOf(id)
	sess, err := findByID[Session](ctx, s.sessions, id)
	if err != nil {
		return false, fmt.Errorf("delete session of user %s: %w", userID.Hex(), err)
	}
	if sess == nil || sess.UserID != userID {
		return false, nil
	}
	res, err := s.sessions.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return false, fmt.Errorf("delete session of user %s: %w", userID.Hex(), storeError(err))
	}
	return res.DeletedCount == 1, nil
}
