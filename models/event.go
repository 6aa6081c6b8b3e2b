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

// eventsCollection holds the users' account activity.
const eventsCollection = "events"

// Limits of the activity kept per user.
const (
	// MaxEventsPerUser is how many events a user keeps: recording one
	// deletes the user's event numbered MaxEventsPerUser before it.
	MaxEventsPerUser = 100
	// RecentEvents is how many of a user's newest events their digest
	// holds: [Store.EventsByUser] serves up to this many without a scan.
	RecentEvents = 50
	// EventTTL is how long an event lives where the server has TTL indexes
	// (MongoDB); FerretDB has none, so there only the per-user cap applies.
	EventTTL = 90 * 24 * time.Hour
)

// EventKind names what happened to an account.
type EventKind string

// The kinds of event the app records.
const (
	EventSignIn       EventKind = "sign-in"        // a login completed (Flow says which)
	EventSignInFailed EventKind = "sign-in-failed" // a callback failed in a signed-in browser
	EventSignOut      EventKind = "sign-out"       // the user logged out
	EventSessionEnded EventKind = "session-ended"  // a session ended (Detail says why)
	EventRevoke       EventKind = "twitter-revoke" // the Twitter credential was revoked, or not (Detail)
	EventTokenIssued  EventKind = "token-issued"   // a service token was issued (Detail: audience, routes)
)

// Event is one thing that happened to a user's account, kept so the user
// can see it. It never holds a secret: no token, session id, code or full
// IP address; the client is only a browser family and an IP prefix.
type Event struct {
	ID     bson.ObjectID `bson:"_id" json:"id"`
	UserID bson.ObjectID `bson:"user_id" json:"-"`
	Kind   EventKind     `bson:"kind" json:"kind"`
	// Flow is the login flow ("oauth1", "oauth2"), where one applies.
	Flow string    `bson:"flow,omitempty" json:"flow,omitempty"`
	At   time.Time `bson:"at" json:"at"`
	// Client is the browser family ("Chrome", "Firefox", "curl", "other").
	Client string `bson:"client,omitempty" json:"client,omitempty"`
	// IPPrefix is the client's network: an IPv4 /24 or an IPv6 /48.
	IPPrefix string `bson:"ip_prefix,omitempty" json:"ip_prefix,omitempty"`
	// Detail is a short, fixed-vocabulary note ("ok", "status 503", ...).
	Detail string `bson:"detail,omitempty" json:"detail,omitempty"`
	// Seq numbers the user's events 1, 2, 3...; 0 for events stored
	// before events were numbered. The ID derives from it (seq.go).
	Seq int64 `bson:"seq,omitempty" json:"-"`
}

func newEventFeed(s *Store) *feed[Event] {
	return &feed[Event]{
		kind: "events", locks: &s.appends, items: s.events(), recent: s.recent, keep: RecentEvents,
		ownerKey: "user_id", timeKey: "at", log: s.log,
		info: func(e *Event) itemInfo {
			return itemInfo{id: e.ID, owner: e.UserID, seq: e.Seq, at: e.At}
		},
		normalize: func(e *Event) { e.At = normTime(e.At) },
	}
}

func (s *Store) events() collection {
	return s.collection(eventsCollection)
}

// RecordEvent stores ev for ev.UserID with a new ID (ev.At is stored in
// UTC at millisecond precision; zero means now), updates the user's
// digest, and deletes the user's event numbered [MaxEventsPerUser] before
// it: all single-key _id operations. It fails if ev.UserID or ev.Kind is
// empty, and with [ErrUnavailable] if the store cannot be reached.
func (s *Store) RecordEvent(ctx context.Context, ev Event) error {
	if ev.UserID.IsZero() || ev.Kind == "" {
		return errors.New("record event: user id and kind are required")
	}
	stored, err := s.eventFeed.add(ctx, ev.UserID, ev.numbered)
	if err == nil {
		err = s.trimEvents(ctx, stored)
	}
	if err != nil {
		return fmt.Errorf("record event for user %s: %w", ev.UserID.Hex(), err)
	}
	return nil
}

// numbered returns ev as stored with number seq and _id id: its time in
// UTC at millisecond precision, now if it had none.
func (ev Event) numbered(id bson.ObjectID, seq int64) Event {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	ev.ID, ev.Seq, ev.At = id, seq, normTime(ev.At)
	return ev
}

// trimEvents deletes the event [MaxEventsPerUser] numbers below stored,
// which keeps the user's events at that cap with one _id delete.
func (s *Store) trimEvents(ctx context.Context, stored Event) error {
	old := stored.Seq - MaxEventsPerUser
	if old <= 0 {
		return nil
	}
	if _, err := s.events().DeleteOne(ctx, bson.D{{Key: "_id", Value: seqID(stored.UserID, old)}}); err != nil {
		return fmt.Errorf("trim: %w", storeError(err))
	}
	return nil
}

// TrimEvents deletes the user's events beyond the newest
// [MaxEventsPerUser]. It scans the user's events: [Store.RecordEvent]
// keeps the cap by itself, so this is for data stored before events were
// numbered.
func (s *Store) TrimEvents(ctx context.Context, user bson.ObjectID) error {
	coll := s.events()
	opts := options.Find().
		SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(MaxEventsPerUser).
		SetProjection(bson.D{{Key: "_id", Value: 1}})
	cur, err := coll.Find(ctx, bson.D{{Key: "user_id", Value: user}}, opts)
	if err != nil {
		return fmt.Errorf("trim events of user %s: %w", user.Hex(), storeError(err))
	}
	var old []struct {
		ID bson.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &old); err != nil {
		return fmt.Errorf("trim events of user %s: %w", user.Hex(), storeError(err))
	}
	if len(old) == 0 {
		return nil
	}
	ids := make([]bson.ObjectID, len(old))
	for i, o := range old {
		ids[i] = o.ID
	}
	if _, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
		return fmt.Errorf("trim events of user %s: %w", user.Hex(), storeError(err))
	}
	return nil
}

// EventsByUser returns at most limit of the user's events, newest first
// (at descending, then newest recorded first). It returns an empty,
// non-nil slice when there are none or limit is not positive. Up to
// [RecentEvents] it reads the user's digest and checks it is current, two
// _id lookups; beyond that it scans the events.
func (s *Store) EventsByUser(ctx context.Context, user bson.ObjectID, limit int) ([]Event, error) {
	evs, err := s.eventFeed.newest(ctx, user, limit)
	if err != nil {
		return nil, fmt.Errorf("events of user %s: %w", user.Hex(), err)
	}
	return evs, nil
}

// ensureEventIndexes creates {user_id: 1, at: -1} for the activity page
// and, where the server supports it, a TTL index on at ([EventTTL]). A
// server that answers NotImplemented (FerretDB) is logged at debug level
// and skipped: the per-user cap bounds the collection anyway.
func (s *Store) ensureEventIndexes(ctx context.Context) error {
	coll := s.events()
	byUser := mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "at", Value: -1}}}
	if _, err := coll.Indexes().CreateOne(ctx, byUser); err != nil {
		return fmt.Errorf("create index on %s: %w", eventsCollection, storeError(err))
	}
	return s.ensureTTLIndex(ctx, coll, "at", EventTTL, "events are capped per user only")
}
