package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The change feed tells every instance about revocations (a session ended,
// a user signed out everywhere or their token cleared) on any store,
// including those without change streams. Each change is one document
// whose _id is "<unix second>:<n>", n = 1, 2, 3... within that second,
// taken by insert (atomic on FerretDB, whose updates are not): a reader
// reads each second's documents by _id until the first missing number,
// so a poll costs one single-key _id lookup per second of its window plus
// one per change, however many sessions and users there are.
//
// A reader re-reads [changeLookBack] seconds before its previous poll
// and [changeLookAhead] seconds after its own clock, so a change lands in
// its window if the publishing instance's clock is at most
// changeLookAhead ahead, or behind by less than changeLookBack minus
// [changeLate] (publishes slower than that are repeated in a later second).

// changesCollection holds the change feed.
const changesCollection = "changes"

const (
	// changeLookBack is how far before its previous poll a reader looks.
	changeLookBack = 10 * time.Second
	// changeLookAhead is how far past its own clock a reader looks.
	changeLookAhead = 3 * time.Second
	// changeLate is how long a publish may take before it is repeated in
	// a fresh second: readers may have moved past its first one.
	changeLate = 3 * time.Second
	// maxChangeGap is the longest time between two polls that one read
	// can catch up with; after a longer gap the read starts afresh and
	// says so ([ChangeBatch.Complete] is false).
	maxChangeGap = time.Minute
	// maxChangePublishes bounds the repeats of one slow publish.
	maxChangePublishes = 3
)

// ChangeRetention is how long a change stays in the feed: cleaned up by
// [Store.DeleteOldChanges], and on MongoDB also by a TTL index. It must
// exceed the longest gap a reader catches up with (a minute).
const ChangeRetention = 10 * time.Minute

// changeDoc is a change as stored.
type changeDoc struct {
	ID        string        `bson:"_id"`
	At        time.Time     `bson:"at"`
	UserID    bson.ObjectID `bson:"user_id,omitempty"`
	SessionID string        `bson:"session_id,omitempty"`
}

func changeID(sec, n int64) string {
	return strconv.FormatInt(sec, 10) + ":" + strconv.FormatInt(n, 10)
}

func (s *Store) changes() collection {
	return s.collection(changesCollection)
}

// PublishChange adds ch to the change feed at now. Exactly one of
// ch.UserID and ch.SessionID must be set; a session is named by its ID,
// never by its key, whose secret must not be copied anywhere. Publish
// after the change is made in the store: a reader that hears of it first
// could read the old state back. It fails with [ErrUnavailable] if the
// store cannot be reached.
func (s *Store) PublishChange(ctx context.Context, ch Change, now time.Time) error {
	if ch.UserID.IsZero() == (ch.SessionID == "") {
		return errors.New("publish change: exactly one of user id and session id is required")
	}
	for range maxChangePublishes {
		start := time.Now()
		if err := s.insertChange(ctx, ch, now); err != nil {
			return fmt.Errorf("publish change: %w", err)
		}
		took := time.Since(start)
		if took < changeLate {
			return nil
		}
		now = now.Add(took)
	}
	return fmt.Errorf("publish change: the store took more than %s %d times", changeLate, maxChangePublishes)
}

// insertChange stores ch under the first free number of now's second.
func (s *Store) insertChange(ctx context.Context, ch Change, now time.Time) error {
	sec := now.Unix()
	doc := changeDoc{At: normTime(now), UserID: ch.UserID, SessionID: ch.SessionID}
	id := func(n int64) any { return changeID(sec, n) }
	_, err := insertNext(ctx, s.changes(), 1, id, func(n int64) any {
		doc.ID = changeID(sec, n)
		return doc
	})
	return err
}

// changeAt returns change n of second sec, or nil if there is none.
func (s *Store) changeAt(ctx context.Context, sec, n int64) (*changeDoc, error) {
	return findByID[changeDoc](ctx, s.changes(), changeID(sec, n))
}

// ChangeCursor is a reader's place in the change feed: the second of its
// last read and how many changes it has read of each second still in its
// window. The zero value has read nothing. It is not safe for concurrent
// use.
type ChangeCursor struct {
	last int64
	read map[int64]int64
}

// ChangeBatch is the result of one [Store.ChangesSince].
type ChangeBatch struct {
	// Changes are the changes not returned before, oldest second first. A
	// change may come twice if the reader's clock went back.
	Changes []Change
	// Complete is false when the read could not continue from the
	// cursor (its first read, or more than a minute since its last): then
	// changes before the last few seconds may have been missed, and
	// anything derived from them must be forgotten.
	Complete bool
	// Reads is how many documents the read looked up, failed or not.
	Reads int
}

// ChangesSince returns the changes published since cur's last read, and
// advances cur. It reads, by _id only, each second from ten seconds before
// cur's last read (or before now, on a fresh start) to three seconds after
// now. On failure cur is left as it was, so the next read covers the same
// ground; the error wraps [ErrUnavailable] if the store cannot be reached.
// The store applies what it read to its own cache of digests too.
func (s *Store) ChangesSince(ctx context.Context, cur *ChangeCursor, now time.Time) (ChangeBatch, error) {
	sec := now.Unix()
	b := ChangeBatch{Complete: cur.last != 0 && sec-cur.last <= int64(maxChangeGap/time.Second)}
	from := sec - int64(changeLookBack/time.Second)
	if b.Complete {
		from = min(from, cur.last-int64(changeLookBack/time.Second))
	}
	to := sec + int64(changeLookAhead/time.Second)
	read := make(map[int64]int64, to-from+1)
	var changes []Change
	for bucket := from; bucket <= to; bucket++ {
		n := cur.read[bucket]
		for {
			b.Reads++
			d, err := s.changeAt(ctx, bucket, n+1)
			if err != nil {
				return ChangeBatch{Reads: b.Reads}, fmt.Errorf("read changes: %w", err)
			}
			if d == nil {
				break
			}
			n++
			changes = append(changes, Change{UserID: d.UserID, SessionID: d.SessionID})
		}
		if n > 0 {
			read[bucket] = n
		}
	}
	cur.last, cur.read = sec, read
	b.Changes = changes
	s.recordFeed.cache.applyFeed(changes, b.Complete, now)
	return b, nil
}

// DeleteOldChanges deletes the changes older than [ChangeRetention] at
// now and returns how many. It scans the (small) change collection on
// FerretDB: call it now and then, never per request.
func (s *Store) DeleteOldChanges(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.changes().DeleteMany(ctx,
		bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: normTime(now.Add(-ChangeRetention))}}}})
	if err != nil {
		return 0, fmt.Errorf("delete old changes: %w", storeError(err))
	}
	return res.DeletedCount, nil
}

// ensureChangeIndexes creates the change collection, so that it exists
// before the first poll, and its TTL index where the server has TTL
// indexes; FerretDB's refusal is logged at debug level, since
// [Store.DeleteOldChanges] cleans up anyway.
func (s *Store) ensureChangeIndexes(ctx context.Context) error {
	if err := createCollection(ctx, s.users.Database(), changesCollection); err != nil {
		return err
	}
	return s.ensureTTLIndex(ctx, s.changes(), "at", ChangeRetention, "old changes stay until DeleteOldChanges")
}
