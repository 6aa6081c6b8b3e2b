package models

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Record is a short text a user saved. The owner is never shown.
type Record struct {
	ID        bson.ObjectID `bson:"_id" json:"id"`
	OwnerID   bson.ObjectID `bson:"owner_id" json:"-"`
	Text      string        `bson:"text" json:"text"`
	CreatedAt time.Time     `bson:"created_at" json:"created_at"`
}

// InsertRecord stores text for owner, as given: the text is a value, so
// "$where" or `{"$gt":""}` in it is stored literally. It returns the stored
// record with its new ID and CreatedAt (now, in UTC at millisecond
// precision). Validating the text is the caller's job.
func (s *Store) InsertRecord(ctx context.Context, owner bson.ObjectID, text string, now time.Time) (*Record, error) {
	rec := Record{
		ID:        bson.NewObjectID(),
		OwnerID:   owner,
		Text:      text,
		CreatedAt: normTime(now),
	}
	if _, err := s.records.InsertOne(ctx, rec); err != nil {
		return nil, fmt.Errorf("insert record of user %s: %w", owner.Hex(), storeError(err))
	}
	return &rec, nil
}

// RecordsByOwner returns at most limit of owner's records, newest first
// (created_at descending, then _id descending). It returns an empty, non-nil
// slice when there are none or limit is not positive.
func (s *Store) RecordsByOwner(ctx context.Context, owner bson.ObjectID, limit int) ([]Record, error) {
	recs := []Record{}
	if limit <= 0 {
		return recs, nil
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit))
	cur, err := s.records.Find(ctx, bson.D{{Key: "owner_id", Value: owner}}, opts)
	if err != nil {
		return nil, fmt.Errorf("records of user %s: %w", owner.Hex(), storeError(err))
	}
	if err := cur.All(ctx, &recs); err != nil {
		return nil, fmt.Errorf("records of user %s: %w", owner.Hex(), storeError(err))
	}
	if recs == nil {
		recs = []Record{}
	}
	for i := range recs {
		recs[i].CreatedAt = normTime(recs[i].CreatedAt)
	}
	return recs, nil
}
