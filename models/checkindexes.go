package models

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// requiredIndex is an index the queries rely on; [Store.EnsureIndexes]
// creates it. (TTL indexes are optional: not every server has them.)
type requiredIndex struct {
	coll   *mongo.Collection
	keys   bson.D
	unique bool
}

func (s *Store) requiredIndexes() []requiredIndex {
	return []requiredIndex{
		{s.users.Collection, bson.D{{Key: "twitter_id", Value: 1}}, true},
		{s.sessions.Collection, bson.D{{Key: "user_id", Value: 1}}, false},
		{s.records.Collection, bson.D{{Key: "owner_id", Value: 1}, {Key: "created_at", Value: -1}}, false},
	}
}

// codeNamespaceNotFound is the server's answer for a missing collection.
const codeNamespaceNotFound = 26

// CheckIndexes reports, without changing anything, which of the indexes
// the queries need are missing, each as "collection {keys}" (with
// " unique" when the index must be unique). It fails with an error
// wrapping [ErrUnavailable] if the store cannot be reached.
func (s *Store) CheckIndexes(ctx context.Context) ([]string, error) {
	var missing []string
	for _, want := range s.requiredIndexes() {
		have, err := listIndexes(ctx, want.coll)
		if err != nil {
			return nil, err
		}
		found := slices.ContainsFunc(have, func(ix indexSpec) bool {
			return sameKeys(ix.Key, want.keys) && (!want.unique || ix.Unique)
		})
		if !found {
			desc := fmt.Sprintf("%s %s", want.coll.Name(), keysString(want.keys))
			if want.unique {
				desc += " unique"
			}
			missing = append(missing, desc)
		}
	}
	return missing, nil
}

type indexSpec struct {
	Key    bson.D `bson:"key"`
	Unique bool   `bson:"unique"`
}

func listIndexes(ctx context.Context, coll *mongo.Collection) ([]indexSpec, error) {
	cur, err := coll.Indexes().List(ctx)
	if se := mongo.ServerError(nil); err != nil && errors.As(err, &se) && se.HasErrorCode(codeNamespaceNotFound) {
		return nil, nil // no collection yet, so no indexes
	}
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", coll.Name(), storeError(err))
	}
	var specs []indexSpec
	if err := cur.All(ctx, &specs); err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", coll.Name(), storeError(err))
	}
	return specs, nil
}

// sameKeys compares index key documents; numbers compare by value, so an
// index created as int32 1 matches a wanted int 1.
func sameKeys(a, b bson.D) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || fmt.Sprint(a[i].Value) != fmt.Sprint(b[i].Value) {
			return false
		}
	}
	return true
}

func keysString(keys bson.D) string {
	out := "{"
	for i, k := range keys {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s: %v", k.Key, k.Value)
	}
	return out + "}"
}
