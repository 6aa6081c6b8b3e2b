package storetest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

func TestNew(t *testing.T) {
	s := storetest.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestOpen_SeparateDatabases(t *testing.T) {
	srv := storetest.NewServer(t)
	a, b := storetest.Open(t, srv), storetest.Open(t, srv)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	owner := bson.NewObjectID()
	if _, err := a.InsertRecord(ctx, owner, "only in a", time.Now()); err != nil {
		t.Fatalf("InsertRecord: %v", err)
	}
	for _, tc := range []struct {
		name  string
		store *models.Store
		want  int
	}{
		{"a", a, 1},
		{"b", b, 0},
	} {
		recs, err := tc.store.RecordsByOwner(ctx, owner, 10)
		if err != nil || len(recs) != tc.want {
			t.Errorf("store %s: RecordsByOwner = %d records, %v; want %d", tc.name, len(recs), err, tc.want)
		}
	}
	if _, err := b.UserByID(ctx, owner); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("UserByID = %v, want ErrNotFound", err)
	}
}
