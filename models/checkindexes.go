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

// CanCreateIndexes says whether the store's user may create the indexes
// that [Store.CheckIndexes] looks for, as the server reports it
// (connectionStatus, which needs no privilege): yes when the server
// enforces no access control (it answered, and nobody is authenticated),
// or when the user holds createIndex on the database or on every
// collection concerned.
func (s *Store) CanCreateIndexes(ctx context.Context) (bool, error) {
	var status connectionStatus
	cmd := bson.D{{Key: "connectionStatus", Value: 1}, {Key: "showPrivileges", Value: true}}
	if err := s.db.RunCommand(ctx, cmd).Decode(&status); err != nil {
		return false, fmt.Errorf("connection status: %w", storeError(err))
	}
	var colls []string
	for _, ix := range s.requiredIndexes() {
		colls = append(colls, ix.coll.Name())
	}
	return status.mayCreateIndexes(s.db.Name(), colls), nil
}

// connectionStatus is the part of the connectionStatus command's answer
// that says who is signed in and what they may do.
type connectionStatus struct {
	AuthInfo struct {
		Users      []bson.Raw  `bson:"authenticatedUsers"`
		Privileges []privilege `bson:"authenticatedUserPrivileges"`
	} `bson:"authInfo"`
}

// privilege is what a user may do (actions) on what (resource): a
// database and collection, where "" means any, or any resource at all.
type privilege struct {
	Resource struct {
		DB          *string `bson:"db"`
		Collection  *string `bson:"collection"`
		AnyResource bool    `bson:"anyResource"`
	} `bson:"resource"`
	Actions []string `bson:"actions"`
}

// mayCreateIndexes says whether the status allows createIndex on every one
// of colls in database db.
func (st connectionStatus) mayCreateIndexes(db string, colls []string) bool {
	if len(st.AuthInfo.Users) == 0 {
		return true
	}
	return !slices.ContainsFunc(colls, func(coll string) bool {
		return !slices.ContainsFunc(st.AuthInfo.Privileges, func(p privilege) bool {
			return p.allows("createIndex", db, coll)
		})
	})
}

// allows says whether p grants action on collection coll of database db.
func (p privilege) allows(action, db, coll string) bool {
	if !slices.Contains(p.Actions, action) {
		return false
	}
	if p.Resource.AnyResource {
		return true
	}
	r := p.Resource
	return r.DB != nil && r.Collection != nil &&
		(*r.DB == "" || *r.DB == db) && (*r.Collection == "" || *r.Collection == coll)
}
