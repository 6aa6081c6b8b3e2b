package models_test

import (
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

// TestRecordDigest_CachedPageIsOneCount: once an instance has read or
// written a user's records, their page costs one count by _id (is the
// number after the cached digest's free?), and still sees the records
// another instance adds.
func TestRecordDigest_CachedPageIsOneCount(t *testing.T) {
	t.Parallel()
	srv := storetest.NewServer(t)
	name := storetest.DatabaseName()
	var log commandLog
	a := openSameDatabase(t, srv, name, log.monitor())
	b := openSameDatabase(t, srv, name, nil)
	owner := bson.NewObjectID()
	insertTexts(t, a, owner, t0, "a1", "a2")
	read := func() []string {
		t.Helper()
		recs, err := a.RecordsByOwner(testContext(t), owner, models.RecentRecords)
		if err != nil {
			t.Fatalf("RecordsByOwner: %v", err)
		}
		return texts(recs)
	}

	log.take()
	if got, want := read(), []string{"a2", "a1"}; !slices.Equal(got, want) {
		t.Errorf("records after this instance's writes = %v, want %v", got, want)
	}
	if got, want := log.take(), []string{"count _id"}; !slices.Equal(got, want) {
		t.Errorf("a cached page sent %v, want %v", got, want)
	}

	insertTexts(t, b, owner, t0.Add(time.Minute), "b1")
	if got, want := read(), []string{"b1", "a2", "a1"}; !slices.Equal(got, want) {
		t.Errorf("records after another instance's write = %v, want %v", got, want)
	}
	log.take()
	read()
	if got, want := log.take(), []string{"count _id"}; !slices.Equal(got, want) {
		t.Errorf("the page after catching up sent %v, want %v", got, want)
	}
}

// TestRecordDigest_DeletedAccountIsNotServedFromCache: the instance that
// deletes an account forgets its cached digest at once; another instance
// forgets it when it reads the change feed that names the user.
func TestRecordDigest_DeletedAccountIsNotServedFromCache(t *testing.T) {
	t.Parallel()
	srv := storetest.NewServer(t)
	stores := openShared(t, srv, 2)
	a, b := stores[0], stores[1]
	ctx := testContext(t)
	owner := mustUpsert(t, a, "5150", t0).ID
	insertTexts(t, a, owner, t0, "private")
	var cur models.ChangeCursor
	if _, err := b.ChangesSince(ctx, &cur, time.Now()); err != nil { // b follows the feed from here
		t.Fatal(err)
	}
	for _, s := range stores {
		if got := mustRecords(t, s, owner); !slices.Equal(got, []string{"private"}) {
			t.Fatalf("records before the deletion = %v", got)
		}
	}

	if _, err := a.DeleteAccount(ctx, owner, models.Revocation{}, t0); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if got := mustRecords(t, a, owner); len(got) != 0 {
		t.Errorf("the deleting instance lists %v after the deletion, want none", got)
	}
	if err := a.PublishChange(ctx, models.Change{UserID: owner}, time.Now()); err != nil {
		t.Fatal(err)
	}
	batch, err := b.ChangesSince(ctx, &cur, time.Now())
	if err != nil || !batch.Complete {
		t.Fatalf("ChangesSince = complete %v, %v; want a complete read", batch.Complete, err)
	}
	if got := mustRecords(t, b, owner); len(got) != 0 {
		t.Errorf("another instance lists %v after reading the change feed, want none", got)
	}
}
