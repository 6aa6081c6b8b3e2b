package models

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// RecentRecords is how many of a user's newest records their digest
// holds: [Store.RecordsByOwner] serves up to this many without a scan.
const RecentRecords = 100

// Record is a short text a user saved. The owner is never shown.
type Record struct {
	ID        bson.ObjectID `bson:"_id" json:"id"`
	OwnerID   bson.ObjectID `bson:"owner_id" json:"-"`
	Text      string        `bson:"text" json:"text"`
	CreatedAt time.Time     `bson:"created_at" json:"created_at"`
	// Seq numbers the owner's records 1, 2, 3...; 0 for records stored
	// before records were numbered. The ID derives from it (seq.go).
	Seq int64 `bson:"seq,omitempty" json:"-"`
}

// newRecordFeed is the records feed of s, its digests cached for
// cacheTTL (zero: not cached).
func newRecordFeed(s *Store, cacheTTL time.Duration) *feed[Record] {
	return &feed[Record]{
		kind: "records", locks: &s.appends, items: s.records, recent: s.recent, keep: RecentRecords,
		ownerKey: "owner_id", timeKey: "created_at", log: s.log,
		info: func(r *Record) itemInfo {
			return itemInfo{id: r.ID, owner: r.OwnerID, seq: r.Seq, at: r.CreatedAt}
		},
		normalize: func(r *Record) { r.CreatedAt = normTime(r.CreatedAt) },
		cache:     newDigestCache(cacheTTL, maxCachedDigestBytes, recordSize),
	}
}

// recordSize estimates the bytes a cached record holds: its text and
// its fixed fields.
func recordSize(r *Record) int { return len(r.Text) + 96 }

// InsertRecord stores text for owner, as given: the text is a value, so
// "$where" or `{"$gt":""}` in it is stored literally. It returns the stored
// record with its new ID and CreatedAt (now, in UTC at millisecond
// precision). Validating the text is the caller's job. The writes are
// single-key _id operations: the record, and the owner's digest.
func (s *Store) InsertRecord(ctx context.Context, owner bson.ObjectID, text string, now time.Time) (*Record, error) {
	rec, err := s.recordFeed.add(ctx, owner, func(id bson.ObjectID, seq int64) Record {
		return Record{ID: id, OwnerID: owner, Text: text, CreatedAt: normTime(now), Seq: seq}
	})
	if err != nil {
		return nil, fmt.Errorf("insert record of user %s: %w", owner.Hex(), err)
	}
	return &rec, nil
}

// RecordsByOwner returns at most limit of owner's records, newest first
// (created_at descending, then newest written first). It returns an
// empty, non-nil slice when there are none or limit is not positive. Up
// to [RecentRecords] it reads the owner's digest and checks it is
// current, two _id lookups; beyond that it scans the records.
func (s *Store) RecordsByOwner(ctx context.Context, owner bson.ObjectID, limit int) ([]Record, error) {
	recs, err := s.recordFeed.newest(ctx, owner, limit)
	if err != nil {
		return nil, fmt.Errorf("records of user %s: %w", owner.Hex(), err)
	}
	return recs, nil
}
