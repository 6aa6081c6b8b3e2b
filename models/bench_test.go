package models_test

import (
	"encoding/binary"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"example.com/twitterlogin/models/storetest"
)

// BenchmarkIDTaken compares the two ways to ask the embedded store whether
// an _id is in use, for an _id that is free (what a page's check usually
// meets) and one that is taken, among 5,000 documents: a find, and the
// count the store uses.
func BenchmarkIDTaken(b *testing.B) {
	srv := storetest.NewServer(b)
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Disconnect(b.Context()) })
	db := client.Database(storetest.DatabaseName())
	coll := db.Collection("items")
	const n = 5000
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: idOf(int64(i))}, {Key: "text", Value: "a record's text"}}
	}
	if _, err := coll.InsertMany(b.Context(), docs); err != nil {
		b.Fatal(err)
	}
	ask := map[string]func(id int64) error{
		"find": func(id int64) error {
			err := coll.FindOne(b.Context(), bson.D{{Key: "_id", Value: idOf(id)}}).Err()
			if err == mongo.ErrNoDocuments {
				return nil
			}
			return err
		},
		"count": func(id int64) error {
			cmd := bson.D{{Key: "count", Value: "items"}, {Key: "query", Value: bson.D{{Key: "_id", Value: idOf(id)}}}, {Key: "limit", Value: 1}}
			return db.RunCommand(b.Context(), cmd).Err()
		},
	}
	for _, how := range []string{"find", "count"} {
		for _, free := range []bool{true, false} {
			name := how + "/taken"
			if free {
				name = how + "/free"
			}
			b.Run(name, func(b *testing.B) {
				for i := int64(0); b.Loop(); i++ {
					id := i % n
					if free {
						id += n
					}
					if err := ask[how](id); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// idOf is the i-th ObjectID: the store's numbered items have ObjectID
// _ids, and the embedded store pushes down only some _id types.
func idOf(i int64) bson.ObjectID {
	var id bson.ObjectID
	binary.BigEndian.PutUint64(id[4:], uint64(i))
	return id
}
