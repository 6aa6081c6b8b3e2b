package models

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// feed keeps one kind of numbered per-user items (records, events) and
// their digests; see seq.go for the scheme.
type feed[T any] struct {
	kind      string // the digest _id's prefix
	locks     *userLocks
	items     collection
	recent    collection
	keep      int    // how many of the newest items a digest holds
	ownerKey  string // the item field that names its user
	timeKey   string // the item field that orders items, newest first
	info      func(*T) itemInfo
	log       *slog.Logger
	normalize func(*T)
	cache     *digestCache[T] // nil: none (digestcache.go)
}

// itemInfo is what a feed needs to know of an item.
type itemInfo struct {
	id    bson.ObjectID
	owner bson.ObjectID
	seq   int64 // 0 for items written before items were numbered
	at    time.Time
}

func (f *feed[T]) digestID(user bson.ObjectID) string { return f.kind + ":" + user.Hex() }

// get returns item seq of user, or nil if there is none.
func (f *feed[T]) get(ctx context.Context, user bson.ObjectID, seq int64) (*T, error) {
	it, err := findByID[T](ctx, f.items, seqID(user, seq))
	if it == nil || err != nil {
		return nil, err
	}
	if in := f.info(it); in.owner != user || in.seq != seq {
		// Another user whose id hashes alike: not this user's item.
		return nil, nil
	}
	f.normalize(it)
	return it, nil
}

// itemIDs gives the _id of each of the user's numbered items.
func itemIDs(user bson.ObjectID) func(seq int64) any {
	return func(seq int64) any { return seqID(user, seq) }
}

// load returns the user's digest as stored, rebuilt from a scan of the
// user's items if there is none.
func (f *feed[T]) load(ctx context.Context, user bson.ObjectID) (digest[T], error) {
	d, found, err := loadDigest[T](ctx, f.recent, f.digestID(user))
	if err != nil || found {
		return d, err
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "seq", Value: -1}, {Key: f.timeKey, Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(f.keep))
	cur, err := f.items.Find(ctx, bson.D{{Key: f.ownerKey, Value: user}}, opts)
	if err != nil {
		return d, fmt.Errorf("rebuild digest: %w", storeError(err))
	}
	if err := cur.All(ctx, &d.Items); err != nil {
		return d, fmt.Errorf("rebuild digest: %w", storeError(err))
	}
	for i := range d.Items {
		f.normalize(&d.Items[i])
		d.Seq = max(d.Seq, f.info(&d.Items[i]).seq)
	}
	d.Items = f.merge(d.Items)
	f.save(ctx, d)
	return d, nil
}

// current returns the user's digest, caught up with any items written
// after it was saved. A cached digest serves when the number after its
// own is free; otherwise, and without one, the stored digest is read and
// caught up, so what is saved derives from the store alone.
func (f *feed[T]) current(ctx context.Context, user bson.ObjectID) (digest[T], error) {
	t := f.cache.ticket()
	if d, ok := f.cache.get(user); ok {
		taken, err := idTaken(ctx, f.items, seqID(user, d.Seq+1))
		if err != nil || !taken {
			return d, err
		}
	}
	d, err := f.load(ctx, user)
	if err != nil {
		return d, err
	}
	last, err := lastSeq(d.Seq, takenIn(ctx, f.items, itemIDs(user)))
	if err != nil {
		return d, err
	}
	if last != d.Seq {
		if d, err = f.catchUp(ctx, user, d, last); err != nil {
			return d, err
		}
		f.save(ctx, d)
	}
	f.cache.put(t, user, d)
	return d, nil
}

// catchUp adds the items numbered after d.Seq up to last to d.
func (f *feed[T]) catchUp(ctx context.Context, user bson.ObjectID, d digest[T], last int64) (digest[T], error) {
	for seq := last; seq > d.Seq && seq > last-int64(f.keep); seq-- {
		it, err := f.get(ctx, user, seq)
		if err != nil {
			return d, err
		}
		if it != nil {
			d.Items = append(d.Items, *it)
		}
	}
	d.Seq = last
	d.Items = f.merge(d.Items)
	return d, nil
}

// merge orders items newest first (by time, then number, then _id),
// drops repeats and keeps the newest f.keep.
func (f *feed[T]) merge(items []T) []T {
	slices.SortStableFunc(items, func(a, b T) int {
		x, y := f.info(&a), f.info(&b)
		if c := y.at.Compare(x.at); c != 0 {
			return c
		}
		if x.seq != y.seq {
			return int(min(max(y.seq-x.seq, -1), 1))
		}
		return bytes.Compare(y.id[:], x.id[:])
	})
	items = slices.CompactFunc(items, func(a, b T) bool { return f.info(&a).id == f.info(&b).id })
	if len(items) > f.keep {
		items = items[:f.keep]
	}
	return items
}

// save writes d; a failure is only logged, since readers repair digests.
func (f *feed[T]) save(ctx context.Context, d digest[T]) {
	if err := saveDigest(ctx, f.recent, d); err != nil {
		f.log.WarnContext(ctx, "digest not saved; the next reader repairs it", slog.String("digest", f.kind), slog.Any("error", err))
	}
}

// add numbers and inserts the item that newItem makes, updates the digest
// and returns the item. It reads the stored digest, never a cached one: a
// digest it saves must not carry items deleted meanwhile.
func (f *feed[T]) add(ctx context.Context, user bson.ObjectID, newItem func(id bson.ObjectID, seq int64) T) (T, error) {
	defer f.locks.lock(f.digestID(user))()
	t := f.cache.ticket()
	d, err := f.load(ctx, user)
	if err != nil {
		var zero T
		return zero, err
	}
	it, d, err := f.appendTo(ctx, user, d, newItem)
	if err != nil {
		return it, err
	}
	f.save(ctx, d)
	f.cache.put(t, user, d)
	return it, nil
}

// appendTo numbers and inserts the item that newItem makes and returns it
// with d updated to include it (not saved). Call it with the digest's
// lock held.
func (f *feed[T]) appendTo(ctx context.Context, user bson.ObjectID, d digest[T], newItem func(id bson.ObjectID, seq int64) T) (T, digest[T], error) {
	var it T
	seq, err := insertNext(ctx, f.items, d.Seq+1, itemIDs(user), func(seq int64) any {
		it = newItem(seqID(user, seq), seq)
		return it
	})
	if err != nil {
		return it, d, err
	}
	caught, err := f.catchUp(ctx, user, d, seq-1)
	if err != nil {
		return it, d, err // d stays behind; readers catch up
	}
	caught.Items = f.merge(append(caught.Items, it))
	caught.Seq = seq
	return it, caught, nil
}

// newest returns at most limit of the user's items, newest first, and an
// empty, non-nil slice when there are none. Beyond what a digest holds it
// scans the user's items (older pages, exports).
func (f *feed[T]) newest(ctx context.Context, user bson.ObjectID, limit int) ([]T, error) {
	if limit <= 0 {
		return []T{}, nil
	}
	if limit > f.keep {
		return f.scan(ctx, user, limit)
	}
	d, err := f.current(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, min(limit, len(d.Items)))
	return append(out, d.Items[:min(limit, len(d.Items))]...), nil
}

// scan returns the user's newest limit items from the whole collection.
func (f *feed[T]) scan(ctx context.Context, user bson.ObjectID, limit int) ([]T, error) {
	opts := options.Find().
		SetSort(bson.D{{Key: f.timeKey, Value: -1}, {Key: "seq", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit))
	cur, err := f.items.Find(ctx, bson.D{{Key: f.ownerKey, Value: user}}, opts)
	if err != nil {
		return nil, storeError(err)
	}
	out := []T{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, storeError(err)
	}
	for i := range out {
		f.normalize(&out[i])
	}
	return out, nil
}
