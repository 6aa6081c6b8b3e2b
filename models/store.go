// Package models holds the app's documents (users, sessions, records) and
// [Store], which keeps them in MongoDB through the official driver v2.
//
// The store must be correct on a real MongoDB replica set and also work on
// embedded FerretDB v1 (package [example.com/twitterlogin/models/embedded]),
// which has no TTL indexes, no change streams and no transactions, and scans
// whole collections for every query. So nothing here relies on TTL for
// correctness: expiry is always checked in Go.
package models

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// DefaultTimeout is the server selection and connect timeout used when
// [Options.Timeout] is zero.
const DefaultTimeout = 5 * time.Second

// Collection names.
const (
	usersCollection    = "users"
	sessionsCollection = "sessions"
	recordsCollection  = "records"
)

// sessionTTLGrace is how long after expiry the TTL index deletes a
// session: a backstop behind [Store.DeleteExpiredSessions], which deletes
// them on time and records the expiry as an event.
const sessionTTLGrace = time.Hour

// codeNotImplemented is the server error code FerretDB answers for features
// it lacks, such as TTL indexes.
const codeNotImplemented = 238

// Options configure [Open].
type Options struct {
	// URI is the MongoDB connection string, for example
	// "mongodb://db1,db2,db3/?replicaSet=rs0". Required. Its write concern
	// and read preference are overridden (majority, primary).
	URI string

	// Database names the database that holds the collections. Required.
	Database string

	// Timeout bounds server selection and connection set-up; zero means
	// [DefaultTimeout]. It is how long a call waits for an unreachable store
	// before it fails with [ErrUnavailable] (unless its context ends first).
	Timeout time.Duration

	// Logger receives the store's debug lines; nil discards them.
	Logger *slog.Logger

	// DefaultRoles are the roles a user gets at their first sign-in (see
	// [Store.UpsertTwitterUser]); nil gives none.
	DefaultRoles []string

	// SkipIndexes makes [Open] leave the indexes alone, for callers that
	// must not write, such as a configuration check ([Store.CheckIndexes]).
	SkipIndexes bool

	// TokenKeys encrypt provider tokens at rest: the first seals, any of
	// them opens. With none, tokens are stored in the clear (the
	// configuration allows that only in dev mode).
	TokenKeys []TokenKey

	// Monitor, if set, sees every command the driver sends (for counting
	// store reads and writes; see [CommandKind]).
	Monitor *event.CommandMonitor

	// MaxConcurrentWrites, if positive, bounds the writes in flight: the
	// rest wait their turn, in this process. Give the embedded store
	// embedded.MaxConcurrentWrites (SQLite has one writer; see
	// writegate.go); zero, for MongoDB, leaves writes unbounded.
	MaxConcurrentWrites int

	// CacheTTL is how long this instance trusts a records digest it has
	// cached without news from the change feed (digestcache.go); give it
	// SESSION_CACHE_TTL, which bounds the cached sessions alike. Zero: no
	// cache, every page reads its digest.
	CacheTTL time.Duration
}

// Store keeps users, sessions and records in one MongoDB database. It is
// safe for concurrent use; create it with [Open] and release it with
// [Store.Close].
type Store struct {
	client   *mongo.Client
	db       *mongo.Database
	writes   writeGate     // nil: writes are not limited
	batches  insertBatches // inserts waiting at the gate, by collection (combine.go)
	users    collection
	sessions collection
	records  collection
	recent   collection // per-user digests (seq.go)
	log      *slog.Logger
	roles    []string // roles of new users
	tokens   *tokenCipher

	recordFeed *feed[Record]
	eventFeed  *feed[Event]
	appends    userLocks // one append per digest at a time (seq.go)
}

// Open connects to the store with majority write concern and primary read
// preference, pings it and creates the indexes ([Store.EnsureIndexes]).
// It fails with an error wrapping [ErrUnavailable] if the store cannot be
// reached within opts.Timeout or ctx.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.URI == "" {
		return nil, errors.New("models: open: Options.URI is empty")
	}
	if opts.Database == "" {
		return nil, errors.New("models: open: Options.Database is empty")
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	co := options.Client().
		ApplyURI(opts.URI).
		SetServerSelectionTimeout(timeout).
		SetConnectTimeout(timeout).
		SetWriteConcern(writeconcern.Majority()).
		SetReadPreference(readpref.Primary())
	if opts.Monitor != nil {
		co.SetMonitor(opts.Monitor)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		// Not wrapped in ErrUnavailable: Connect does no I/O, so this is a
		// bad URI or option, which retrying will not fix.
		return nil, fmt.Errorf("models: open: %w", err)
	}

	tokens, err := newTokenCipher(opts.TokenKeys)
	if err != nil {
		return nil, fmt.Errorf("models: open: %w", err)
	}
	db := client.Database(opts.Database)
	s := &Store{
		tokens: tokens,
		client: client,
		db:     db,
		log:    logger,
		roles:  append([]string{}, opts.DefaultRoles...),
	}
	if opts.MaxConcurrentWrites > 0 {
		s.writes = make(writeGate, opts.MaxConcurrentWrites)
	}
	s.users = s.collection(usersCollection)
	s.sessions = s.collection(sessionsCollection)
	s.records = s.collection(recordsCollection)
	s.recent = s.collection(recentCollection)
	s.recordFeed = newRecordFeed(s, opts.CacheTTL)
	s.eventFeed = newEventFeed(s)
	if err := s.Ping(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("models: open: %w", err)
	}
	if opts.SkipIndexes {
		return s, nil
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("models: open: %w", err)
	}
	return s, nil
}

// Close disconnects from the store, waiting for in-use connections until
// ctx ends. Closing a closed store is not an error.
func (s *Store) Close(ctx context.Context) error {
	err := s.client.Disconnect(ctx)
	if err != nil && !errors.Is(err, mongo.ErrClientDisconnected) {
		return fmt.Errorf("models: close: %w", err)
	}
	return nil
}

// Ping checks that the primary answers. It fails with an error wrapping
// [ErrUnavailable] when it does not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("ping: %w", storeError(err))
	}
	return nil
}

// EnsureIndexes creates the indexes the queries need, if missing:
//   - users: unique twitter_id;
//   - sessions: user_id, and a TTL index on expires_at an hour late (a
//     backstop: see [Store.DeleteExpiredSessions])
//     where the server supports it; a server that answers NotImplemented
//     (FerretDB) is logged at debug level and skipped, since expiry is
//     checked in Go anyway and [Store.DeleteExpiredSessions] cleans up;
//   - records: {owner_id: 1, created_at: -1};
//   - events: {user_id: 1, at: -1}, and a TTL index on at where supported
//     (see [EventTTL]);
//   - changes (the change feed): a TTL index on at where supported (see
//     [ChangeRetention]);
//   - spent_logins (used login states): a TTL index on expires_at where
//     supported (see [SpentLoginGrace]);
//   - recent (the per-user digests) and the token refresh claims: no index
//     but _id; they are created here so that every collection exists
//     before the first request.
//
// It is safe to call repeatedly. An existing index with the same keys but
// different options makes it fail.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	plain := []struct {
		coll  *mongo.Collection
		model mongo.IndexModel
	}{
		{s.users.Collection, mongo.IndexModel{
			Keys:    bson.D{{Key: "twitter_id", Value: 1}},
			Options: options.Index().SetUnique(true),
		}},
		{s.sessions.Collection, mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}}}},
		{s.records.Collection, mongo.IndexModel{Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "created_at", Value: -1}}}},
	}
	for _, ix := range plain {
		if _, err := ix.coll.Indexes().CreateOne(ctx, ix.model); err != nil {
			return fmt.Errorf("create index on %s: %w", ix.coll.Name(), storeError(err))
		}
	}

	if err := s.ensureTTLIndex(ctx, s.sessions, "expires_at", sessionTTLGrace,
		"expired sessions stay until DeleteExpiredSessions"); err != nil {
		return err
	}
	if err := s.ensureEventIndexes(ctx); err != nil {
		return err
	}
	if err := s.ensureChangeIndexes(ctx); err != nil {
		return err
	}
	if err := s.ensureSpentLoginIndexes(ctx); err != nil {
		return err
	}
	for _, name := range []string{recentCollection, tokenClaimsCollection} {
		if err := createCollection(ctx, s.users.Database(), name); err != nil {
			return err
		}
	}
	return nil
}

// ensureTTLIndex creates a TTL index on field of coll that deletes a
// document once its field is older than after, where the server has TTL
// indexes. A server that answers NotImplemented (FerretDB) is logged at
// debug level, with what cleans the collection instead.
func (s *Store) ensureTTLIndex(ctx context.Context, coll collection, field string, after time.Duration, instead string) error {
	ttl := mongo.IndexModel{
		Keys:    bson.D{{Key: field, Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(int32(after / time.Second)),
	}
	if _, err := coll.Indexes().CreateOne(ctx, ttl); err != nil {
		if !isNotImplemented(err) {
			return fmt.Errorf("create TTL index on %s: %w", coll.Name(), storeError(err))
		}
		s.log.DebugContext(ctx, "store has no TTL indexes; "+instead,
			slog.String("collection", coll.Name()), slog.Any("error", err))
	}
	return nil
}

// isNotImplemented reports whether the server refused a command as not
// implemented (code 238), as FerretDB does for TTL indexes.
func isNotImplemented(err error) bool {
	if se := mongo.ServerError(nil); errors.As(err, &se) && se.HasErrorCode(codeNotImplemented) {
		return true
	}
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Name == "NotImplemented"
}

// normTime normalises a time for storage: UTC, truncated to the millisecond
// precision of a BSON datetime, so what is written compares equal to what is
// read back. It also drops the monotonic clock reading.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}
