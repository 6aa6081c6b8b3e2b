package models

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// ErrNotSupported is returned (wrapped) by [Store.WatchChanges] when the
// server has no change streams: FerretDB, or a MongoDB that is not a
// replica set.
var ErrNotSupported = errors.New("models: not supported by this store")

// codeChangeStreamNeedsReplicaSet is what a standalone mongod answers to
// $changeStream.
const codeChangeStreamNeedsReplicaSet = 40573

// Change names a user or session that some instance changed or deleted.
// Exactly one of UserID and SessionID is set.
type Change struct {
	UserID    bson.ObjectID
	SessionID string
}

// WatchChanges follows the store's change streams and calls fn for every
// update or deletion of a user and every deletion of a session, by any
// instance, until ctx ends (then it returns nil) or a stream fails. ready
// is called once the streams are open: changes before that moment are not
// reported. fn may be called from two goroutines at once. On a server
// without change streams it fails at once with an error wrapping
// [ErrNotSupported].
func (s *Store) WatchChanges(ctx context.Context, ready func(), fn func(Change)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ops := func(kinds ...string) mongo.Pipeline {
		in := bson.A{}
		for _, k := range kinds {
			in = append(in, k)
		}
		return mongo.Pipeline{{{Key: "$match", Value: bson.D{{Key: "operationType", Value: bson.D{{Key: "$in", Value: in}}}}}}}
	}
	users, err := s.users.Watch(ctx, ops("update", "replace", "delete"))
	if err != nil {
		return watchError(err)
	}
	defer users.Close(context.WithoutCancel(ctx))
	sessions, err := s.sessions.Watch(ctx, ops("delete"))
	if err != nil {
		return watchError(err)
	}
	defer sessions.Close(context.WithoutCancel(ctx))
	// Anything may have changed while no stream was open.
	s.recordFeed.cache.clear()
	if ready != nil {
		ready()
	}

	errc := make(chan error, 2)
	go func() {
		errc <- follow(ctx, users, func(id bson.RawValue) {
			if oid, ok := id.ObjectIDOK(); ok {
				s.recordFeed.cache.drop(oid)
				fn(Change{UserID: oid})
			}
		})
	}()
	go func() {
		errc <- follow(ctx, sessions, func(id bson.RawValue) {
			if sid, ok := id.StringValueOK(); ok {
				fn(Change{SessionID: sid})
			}
		})
	}()
	// The first stream to end stops the other.
	err = <-errc
	cancel()
	<-errc
	return err
}

// follow reports the _id of every event on stream until it ends.
func follow(ctx context.Context, stream *mongo.ChangeStream, fn func(bson.RawValue)) error {
	for stream.Next(ctx) {
		var ev struct {
			DocumentKey struct {
				ID bson.RawValue `bson:"_id"`
			} `bson:"documentKey"`
		}
		if err := stream.Decode(&ev); err != nil {
			return fmt.Errorf("watch changes: decode: %w", err)
		}
		fn(ev.DocumentKey.ID)
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("watch changes: %w", storeError(stream.Err()))
}

func watchError(err error) error {
	se := mongo.ServerError(nil)
	if isNotImplemented(err) || (errors.As(err, &se) && se.HasErrorCode(codeChangeStreamNeedsReplicaSet)) {
		return fmt.Errorf("watch changes: %w: %w", ErrNotSupported, err)
	}
	return fmt.Errorf("watch changes: %w", storeError(err))
}
