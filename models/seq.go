package models

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A user's records, events and sessions are numbered 1, 2, 3... per user,
// and each document's _id is derived from its user and its number
// ([seqID]). So "the user's newest items" is a handful of single-key _id
// lookups, which every store serves from an index (the embedded FerretDB
// only those: a filter on owner_id, a sort or a limit reads the whole
// collection). Numbers are taken by inserting: the unique _id index makes
// two writers that want the same number collide, and the loser takes the
// next one, so numbers are dense and never shared, on MongoDB and FerretDB
// alike (FerretDB's updates are read-modify-write without a lock, but its
// inserts are atomic).
//
// A per-user digest document in the recent collection ([digest]) holds the
// newest number written and, for records and events, the newest items
// themselves: one read serves a page. The digest is derived data. A writer
// updates it after its insert, and may lose a race with another writer or
// die in between; every reader therefore checks that the number after the
// digest's is free (one more lookup) and catches up from the items
// themselves when it is not. A missing digest (data written before digests
// existed, or a crash before the first one was saved) is rebuilt from a
// scan of the user's items, once. An instance also keeps the records
// digests it used last in memory (digestcache.go): then that check is the
// page's only lookup.

// recentCollection holds the digests.
const recentCollection = "recent"

// maxSeqAttempts bounds the inserts one append tries before it gives up:
// each failed attempt means another writer took the number meanwhile.
const maxSeqAttempts = 16

// seqID returns the _id of item seq of user: 8 bytes that name the user
// (the Twitter id of a derived user id, or a hash of any other id) and the
// number, big-endian, so a user's items also sort by number.
func seqID(user bson.ObjectID, seq int64) bson.ObjectID {
	var id bson.ObjectID
	if [4]byte(user[:4]) == userIDTag {
		copy(id[:8], user[4:])
	} else {
		h := sha256.Sum256(user[:])
		copy(id[:8], h[:8])
	}
	binary.BigEndian.PutUint32(id[8:], uint32(seq))
	return id
}

// lastSeq returns the highest number in use, given that from is in use (or
// is 0) and that numbers are dense above it: it probes from+1 and, only
// if that is taken, gallops and bisects. The usual cost is one lookup.
func lastSeq(from int64, taken func(seq int64) (bool, error)) (int64, error) {
	lo, step := from, int64(1)
	var hi int64
	for {
		ok, err := taken(lo + step)
		if err != nil {
			return 0, err
		}
		if !ok {
			hi = lo + step
			break
		}
		lo += step
		step *= 2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := taken(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// takenIn returns whether number seq is in use in coll, where idOf gives
// the _id of number seq. It does not read the document: an item of
// another user whose id hashes alike (seqID) counts as taken too, and the
// two then skip each other's numbers, which costs nothing.
func takenIn(ctx context.Context, coll collection, idOf func(seq int64) any) func(int64) (bool, error) {
	return func(seq int64) (bool, error) { return idTaken(ctx, coll, idOf(seq)) }
}

// insertNext inserts the document that newDoc makes for number seq, the
// first free one from want on, and returns that number; idOf gives the
// _id of number seq.
func insertNext(ctx context.Context, coll collection, want int64, idOf func(seq int64) any, newDoc func(seq int64) any) (int64, error) {
	taken := takenIn(ctx, coll, idOf)
	seq := want
	for range maxSeqAttempts {
		_, err := coll.InsertOne(ctx, newDoc(seq))
		if err == nil {
			return seq, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, storeError(err)
		}
		// Taken: the digest was behind, or another writer won.
		last, err := lastSeq(seq, taken)
		if err != nil {
			return 0, err
		}
		seq = last + 1
	}
	return 0, fmt.Errorf("no free number after %d attempts", maxSeqAttempts)
}

// digest is a user's newest items of one kind, newest first, and the
// highest number among that user's items when it was written. The events
// digest also holds the user's session numbers, since a sign-in writes a
// session and an event together ([Store.StartSession]).
type digest[T any] struct {
	ID       string
	Seq      int64
	Items    []T
	Sessions *sessionNumbers
}

// storedDigest is a digest as stored. Its items are packed into one binary
// value: the embedded FerretDB decodes a stored document from JSON value by
// value, which for a digest of 100 records cost milliseconds on every read
// and write, and a binary value in one step. Nothing queries a digest by
// its items, and on MongoDB the packing costs nothing.
type storedDigest struct {
	ID       string          `bson:"_id"`
	Seq      int64           `bson:"seq"`
	Packed   []byte          `bson:"packed"`
	Sessions *sessionNumbers `bson:"sessions,omitempty"`
}

// packedItems is what a digest's packed value holds.
type packedItems[T any] struct {
	Items []T `bson:"items"`
}

// MarshalBSON stores d as a [storedDigest].
func (d digest[T]) MarshalBSON() ([]byte, error) {
	packed, err := bson.Marshal(packedItems[T]{d.Items})
	if err != nil {
		return nil, fmt.Errorf("pack digest %s: %w", d.ID, err)
	}
	return bson.Marshal(storedDigest{ID: d.ID, Seq: d.Seq, Packed: packed, Sessions: d.Sessions})
}

// UnmarshalBSON reads a [storedDigest].
func (d *digest[T]) UnmarshalBSON(b []byte) error {
	var s storedDigest
	if err := bson.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = digest[T]{ID: s.ID, Seq: s.Seq, Sessions: s.Sessions}
	if len(s.Packed) == 0 {
		return nil
	}
	var items packedItems[T]
	if err := bson.Unmarshal(s.Packed, &items); err != nil {
		return fmt.Errorf("unpack digest %s: %w", s.ID, err)
	}
	d.Items = items.Items
	return nil
}

// createCollection creates name if it does not exist yet, so that it is
// there (with its _id index) before the first write.
func createCollection(ctx context.Context, db *mongo.Database, name string) error {
	err := db.CreateCollection(ctx, name)
	var ce mongo.CommandError
	if err != nil && !(errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists")) {
		return fmt.Errorf("create collection %s: %w", name, storeError(err))
	}
	return nil
}

// saveDigest writes d's numbers and items (and its session numbers, if
// set), replacing what is there. Losing a race here is harmless: readers
// catch up from the items.
func saveDigest[T any](ctx context.Context, recent collection, d digest[T]) error {
	packed, err := bson.Marshal(packedItems[T]{d.Items})
	if err != nil {
		return fmt.Errorf("pack digest %s: %w", d.ID, err)
	}
	set := bson.D{{Key: "seq", Value: d.Seq}, {Key: "packed", Value: packed}}
	if d.Sessions != nil {
		set = append(set, bson.E{Key: "sessions", Value: d.Sessions})
	}
	// "items" held the items unpacked before they were packed.
	_, err = recent.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}},
		bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "items", Value: ""}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save digest %s: %w", d.ID, storeError(err))
	}
	return nil
}

// loadDigest reads the digest with the given id; found is false if there
// is none, or it holds no items yet (only session numbers), or it holds
// them unpacked, as digests did before they were packed.
func loadDigest[T any](ctx context.Context, recent collection, id string) (d digest[T], found bool, err error) {
	d.ID = id
	raw, err := recent.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d, false, nil
	}
	if err == nil {
		err = bson.Unmarshal(raw, &d)
	}
	if err != nil {
		return d, false, fmt.Errorf("load digest %s: %w", id, storeError(err))
	}
	_, noItems := raw.LookupErr("packed")
	return d, noItems == nil, nil
}

// findByID returns the document of coll with the given _id, or nil if
// there is none.
func findByID[T any](ctx context.Context, coll collection, id any) (*T, error) {
	var doc T
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, storeError(err)
	}
	return &doc, nil
}

// idTaken reports whether coll holds a document with the given _id. It
// asks with a count, not a find: the embedded FerretDB answers a count
// without opening a cursor, so the check a page makes on every read (is
// the number after the digest's free?), which usually finds nothing, costs
// about 40 % less (BenchmarkIDTaken). MongoDB serves it from the _id index.
func idTaken(ctx context.Context, coll collection, id any) (bool, error) {
	var res struct {
		N int64 `bson:"n"`
	}
	cmd := bson.D{{Key: "count", Value: coll.Name()}, {Key: "query", Value: bson.D{{Key: "_id", Value: id}}}, {Key: "limit", Value: 1}}
	if err := coll.Database().RunCommand(ctx, cmd).Decode(&res); err != nil {
		return false, storeError(err)
	}
	return res.N > 0, nil
}

// digestIDs are the _ids of the user's digests.
func (s *Store) digestIDs(user bson.ObjectID) []string {
	return []string{s.recordFeed.digestID(user), s.eventFeed.digestID(user)}
}

// createDigests stores empty digests for a user who has nothing yet, so
// that their first request does not rebuild them with a scan. Digests
// that exist already are kept; a failure is only logged, since a missing
// digest is rebuilt when needed.
func (s *Store) createDigests(ctx context.Context, users ...bson.ObjectID) {
	docs := make([]any, 0, 2*len(users))
	for _, u := range users {
		docs = append(docs,
			digest[Record]{ID: s.recordFeed.digestID(u)},
			digest[Event]{ID: s.eventFeed.digestID(u), Sessions: &sessionNumbers{}})
	}
	_, err := s.recent.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		s.log.WarnContext(ctx, "digests of new users not created; rebuilt when needed", slog.Any("error", storeError(err)))
	}
}

// userLocks serialises, within this process, the appends to one digest:
// writers in one process then never race for a number (fifty concurrent
// first logins of one account would otherwise retry each other's
// inserts), and their digests do not overwrite each other. Other
// processes still can; numbers and readers are built for that.
type userLocks struct {
	mu    sync.Mutex
	locks map[string]*userLock
}

type userLock struct {
	mu    sync.Mutex
	users int // holders and waiters; the entry goes when it drops to 0
}

// lock locks key and returns its unlock.
func (l *userLocks) lock(key string) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[string]*userLock)
	}
	e := l.locks[key]
	if e == nil {
		e = &userLock{}
		l.locks[key] = e
	}
	e.users++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}
