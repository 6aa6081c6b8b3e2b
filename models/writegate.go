package models

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// writeGate lets at most cap(g) writes reach the store at once
// ([Options.MaxConcurrentWrites]); a nil gate lets every write through.
//
// SQLite, behind the embedded FerretDB, has one writer at a time, and a
// writer that finds the database locked sleeps in SQLite's busy handler
// (1, 2, 5, 10... up to 100 ms a try) rather than queueing: with dozens
// of concurrent writes most of them sleep, throughput falls and tail
// latency reaches seconds. Queueing the writes here, in order, keeps the
// one writer busy instead.
type writeGate chan struct{}

// enter waits for a place, or for ctx to end, and returns the release.
func (g writeGate) enter(ctx context.Context) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g <- struct{}{}:
		return func() { <-g }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to write: %w", context.Cause(ctx))
	}
}

// collection is a collection whose writes pass the store's write gate.
// Reads go straight through.
type collection struct {
	*mongo.Collection
	gate  writeGate
	batch *insertBatch // nil: inserts are not combined (no gate)
}

func (s *Store) collection(name string) collection {
	c := collection{Collection: s.db.Collection(name), gate: s.writes}
	if s.writes != nil {
		c.batch = s.batches.get(name)
	}
	return c
}

// gated runs write once the gate lets it.
func gated[R any](ctx context.Context, g writeGate, write func() (R, error)) (R, error) {
	release, err := g.enter(ctx)
	if err != nil {
		var zero R
		return zero, err
	}
	defer release()
	return write()
}

// InsertOne is [mongo.Collection.InsertOne] through the write gate,
// combined with the other inserts into the collection waiting for it
// (combine.go). Callers get the error only: the result is empty.
func (c collection) InsertOne(ctx context.Context, doc any, opts ...options.Lister[options.InsertOneOptions]) (*mongo.InsertOneResult, error) {
	if c.batch == nil || len(opts) > 0 {
		return gated(ctx, c.gate, func() (*mongo.InsertOneResult, error) { return c.Collection.InsertOne(ctx, doc, opts...) })
	}
	if err := c.insertCombined(ctx, doc); err != nil {
		return nil, err
	}
	return &mongo.InsertOneResult{}, nil
}

// InsertMany is [mongo.Collection.InsertMany] through the write gate.
func (c collection) InsertMany(ctx context.Context, docs any, opts ...options.Lister[options.InsertManyOptions]) (*mongo.InsertManyResult, error) {
	return gated(ctx, c.gate, func() (*mongo.InsertManyResult, error) { return c.Collection.InsertMany(ctx, docs, opts...) })
}

// UpdateOne is [mongo.Collection.UpdateOne] through the write gate.
func (c collection) UpdateOne(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error) {
	return gated(ctx, c.gate, func() (*mongo.UpdateResult, error) { return c.Collection.UpdateOne(ctx, filter, update, opts...) })
}

// FindOneAndUpdate is [mongo.Collection.FindOneAndUpdate] through the
// write gate.
func (c collection) FindOneAndUpdate(ctx context.Context, filter, update any, opts ...options.Lister[options.FindOneAndUpdateOptions]) *mongo.SingleResult {
	res, err := gated(ctx, c.gate, func() (*mongo.SingleResult, error) {
		return c.Collection.FindOneAndUpdate(ctx, filter, update, opts...), nil
	})
	if err != nil {
		return mongo.NewSingleResultFromDocument(bson.D{}, err, nil)
	}
	return res
}

// UpdateMany is [mongo.Collection.UpdateMany] through the write gate.
func (c collection) UpdateMany(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateManyOptions]) (*mongo.UpdateResult, error) {
	return gated(ctx, c.gate, func() (*mongo.UpdateResult, error) { return c.Collection.UpdateMany(ctx, filter, update, opts...) })
}

// DeleteOne is [mongo.Collection.DeleteOne] through the write gate.
func (c collection) DeleteOne(ctx context.Context, filter any, opts ...options.Lister[options.DeleteOneOptions]) (*mongo.DeleteResult, error) {
	return gated(ctx, c.gate, func() (*mongo.DeleteResult, error) { return c.Collection.DeleteOne(ctx, filter, opts...) })
}

// DeleteMany is [mongo.Collection.DeleteMany] through the write gate.
func (c collection) DeleteMany(ctx context.Context, filter any, opts ...options.Lister[options.DeleteManyOptions]) (*mongo.DeleteResult, error) {
	return gated(ctx, c.gate, func() (*mongo.DeleteResult, error) { return c.Collection.DeleteMany(ctx, filter, opts...) })
}

// BulkWrite is [mongo.Collection.BulkWrite] through the write gate.
func (c collection) BulkWrite(ctx context.Context, writes []mongo.WriteModel, opts ...options.Lister[options.BulkWriteOptions]) (*mongo.BulkWriteResult, error) {
	return gated(ctx, c.gate, func() (*mongo.BulkWriteResult, error) { return c.Collection.BulkWrite(ctx, writes, opts...) })
}
