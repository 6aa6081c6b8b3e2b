package models_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
	"example.com/twitterlogin/models/storetest"
)

func TestOpen_Invalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		opts            models.Options
		wantUnavailable bool
	}{
		{"no URI", models.Options{Database: "x"}, false},
		{"no database", models.Options{URI: "mongodb://127.0.0.1:1/"}, false},
		{"bad URI", models.Options{URI: "http://example.com", Database: "x"}, false},
		{"nobody listening", models.Options{URI: "mongodb://" + closedAddr(t) + "/", Database: "x", Timeout: 300 * time.Millisecond}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			s, err := models.Open(testContext(t), tc.opts)
			if err == nil {
				_ = s.Close(context.Background())
				t.Fatal("Open: err = nil, want an error")
			}
			if got := errors.Is(err, models.ErrUnavailable); got != tc.wantUnavailable {
				t.Errorf("Open = %v; errors.Is(err, ErrUnavailable) = %t, want %t", err, got, tc.wantUnavailable)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Open took %v, want it to give up quickly", d)
			}
		})
	}
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestEnsureIndexes(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	// Open already ran it once; again must be a no-op, even though FerretDB
	// refuses the TTL index.
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatalf("EnsureIndexes again: %v", err)
	}
	tests := []struct {
		coll   string
		keys   bson.D
		unique bool
	}{
		{"users", bson.D{{Key: "twitter_id", Value: int32(1)}}, true},
		{"sessions", bson.D{{Key: "user_id", Value: int32(1)}}, false},
		{"records", bson.D{{Key: "owner_id", Value: int32(1)}, {Key: "created_at", Value: int32(-1)}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.coll, func(t *testing.T) {
			specs, err := db.Collection(tc.coll).Indexes().ListSpecifications(ctx)
			if err != nil {
				t.Fatalf("list indexes: %v", err)
			}
			want, err := bson.Marshal(tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			found := slices.ContainsFunc(specs, func(spec mongo.IndexSpecification) bool {
				unique := spec.Unique != nil && *spec.Unique
				return bytes.Equal(spec.KeysDocument, want) && unique == tc.unique
			})
			if !found {
				t.Errorf("no index %v (unique %t) in %v", tc.keys, tc.unique, specs)
			}
		})
	}
}

func TestUpsertTwitterUser_ValuesAreNotOperators(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	tests := []struct {
		name    string
		profile models.TwitterProfile
	}{
		{"operator handle", models.TwitterProfile{ID: "1", Handle: "$where", Name: `{"$gt":""}`}},
		{"dotted name", models.TwitterProfile{ID: "2", Handle: "a.b", Name: "$set.x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.UpsertTwitterUser(ctx, tc.profile, models.ProviderToken{Flow: "$inc"}, t0)
			if err != nil {
				t.Fatalf("UpsertTwitterUser: %v", err)
			}
			raw := mustRaw(t, db, "users", u.ID)
			for field, want := range map[string]string{"twitter_id": tc.profile.ID, "handle": tc.profile.Handle, "name": tc.profile.Name} {
				if raw[field] != want {
					t.Errorf("stored %s = %#v, want %q", field, raw[field], want)
				}
			}
		})
	}
	// A Twitter id is a decimal number: anything else is refused before
	// it reaches a query.
	for _, id := range []string{`{"$ne":null}`, "$where", "1.5", "a.b"} {
		if _, err := s.UpsertTwitterUser(ctx, models.TwitterProfile{ID: id, Handle: "h"}, models.ProviderToken{}, t0); err == nil {
			t.Errorf("UpsertTwitterUser accepted Twitter id %q", id)
		}
	}
	if n := mustCount(t, db, "users", bson.D{}); n != int64(len(tests)) {
		t.Errorf("%d users, want %d", n, len(tests))
	}
}

// TestStore_Unavailable stops the embedded server under an open Store, checks
// that calls fail with ErrUnavailable within a few seconds, then starts the
// server again on the same address and folder and checks that the same Store
// recovers and the data survived.
func TestStore_Unavailable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, err := embedded.Start(testContext(t), embedded.Options{Dir: dir, Logger: storetest.ErrorLogger()})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	s, _ := openStore(t, srv)
	u := mustUpsert(t, s, "99", t0)

	if err := srv.Close(); err != nil {
		t.Fatalf("Close server: %v", err)
	}

	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"UserByID", func(ctx context.Context) error { _, err := s.UserByID(ctx, u.ID); return err }},
		{"Ping", s.Ping},
		{"InsertRecord", func(ctx context.Context) error { _, err := s.InsertRecord(ctx, u.ID, "x", t0); return err }},
		{"SessionByID", func(ctx context.Context) error { _, err := s.SessionByID(ctx, "id.secret", t0); return err }},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.call(testContext(t))
			if !errors.Is(err, models.ErrUnavailable) {
				t.Errorf("%s with the store down = %v, want ErrUnavailable", tc.name, err)
			}
			if d := time.Since(start); d > 3*storetest.StoreTimeout {
				t.Errorf("%s took %v, want at most %v", tc.name, d, 3*storetest.StoreTimeout)
			}
		})
	}

	t.Run("caller deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := s.UserByID(ctx, u.ID)
		if !errors.Is(err, models.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("UserByID past the deadline = %v, want ErrUnavailable and context.DeadlineExceeded", err)
		}
	})

	srv2, err := embedded.Start(testContext(t), embedded.Options{Dir: dir, Addr: srv.Addr(), Logger: storetest.ErrorLogger()})
	if err != nil {
		t.Fatalf("Start again on %s: %v", srv.Addr(), err)
	}
	t.Cleanup(func() { _ = srv2.Close() })
	if srv2.Addr() != srv.Addr() {
		t.Fatalf("restarted on %s, want %s", srv2.Addr(), srv.Addr())
	}

	// The driver finds the server again on its own; give it a few tries.
	deadline := time.Now().Add(15 * time.Second)
	var got *models.User
	for {
		got, err = s.UserByID(testContext(t), u.ID)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("UserByID after restart: %v", err)
	}
	if got.Handle != u.Handle {
		t.Errorf("Handle after restart = %q, want %q", got.Handle, u.Handle)
	}
	// Close the store before srv2 so the server need not wait for its
	// connections to hang up.
	if err := s.Close(testContext(t)); err != nil {
		t.Errorf("Close store: %v", err)
	}
}

func TestClose_Twice(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	for i := range 2 {
		if err := s.Close(testContext(t)); err != nil {
			t.Errorf("Close #%d = %v, want nil", i+1, err)
		}
	}
	if _, err := s.UserByID(testContext(t), bson.NewObjectID()); !errors.Is(err, models.ErrUnavailable) {
		t.Errorf("UserByID on a closed store = %v, want ErrUnavailable", err)
	}
}

// TestWatchChangesNotSupported: FerretDB has no change streams, and says so
// at once with ErrNotSupported, so callers fall back to their cache bound.
func TestWatchChangesNotSupported(t *testing.T) {
	s := storetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.WatchChanges(ctx, func() { t.Error("ready called without a stream") }, func(models.Change) {})
	if !errors.Is(err, models.ErrNotSupported) {
		t.Fatalf("WatchChanges = %v, want ErrNotSupported", err)
	}
}
