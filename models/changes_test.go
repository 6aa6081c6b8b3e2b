package models_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
	"example.com/twitterlogin/models/storetest"
)

// openShared opens n stores on one fresh database of srv, as n app
// instances sharing a store would.
func openShared(t *testing.T, srv *embedded.Server, n int) []*models.Store {
	t.Helper()
	name := storetest.DatabaseName()
	stores := make([]*models.Store, n)
	for i := range stores {
		s, err := models.Open(testContext(t), models.Options{URI: srv.URI(), Database: name, Timeout: storetest.StoreTimeout, CacheTTL: storetest.CacheTTL})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		stores[i] = s
	}
	return stores
}

// mustRead reads the feed at now and returns the changes as strings.
func mustRead(t *testing.T, s *models.Store, cur *models.ChangeCursor, now time.Time) ([]string, models.ChangeBatch) {
	t.Helper()
	b, err := s.ChangesSince(testContext(t), cur, now)
	if err != nil {
		t.Fatalf("ChangesSince: %v", err)
	}
	var out []string
	for _, ch := range b.Changes {
		out = append(out, changeString(ch))
	}
	slices.Sort(out)
	return out, b
}

func changeString(ch models.Change) string {
	if ch.SessionID != "" {
		return "session " + ch.SessionID
	}
	return "user " + ch.UserID.Hex()
}

// TestChangeFeed: what one store publishes, another store on the same
// database reads, once, whichever second (within the look-back and
// look-ahead) the publisher's clock put it in.
func TestChangeFeed(t *testing.T) {
	srv := storetest.NewServer(t)
	t0 := time.Unix(1_800_000_000, 0).Add(400 * time.Millisecond)
	u := bson.NewObjectID()
	type publish struct {
		by int           // which of the two publishing stores
		at time.Duration // the publisher's clock, from t0
		ch models.Change
	}
	tests := []struct {
		name      string
		publishes []publish // made concurrently
		readAt    time.Duration
		want      []string
		complete  bool
	}{
		{"a session ended", []publish{{0, 0, models.Change{SessionID: "s1"}}}, time.Second,
			[]string{"session s1"}, true},
		{"a user signed out", []publish{{0, 0, models.Change{UserID: u}}}, time.Second,
			[]string{"user " + u.Hex()}, true},
		{"two publishers in one second", []publish{
			{0, 0, models.Change{SessionID: "s1"}},
			{1, 0, models.Change{SessionID: "s2"}},
			{0, 0, models.Change{SessionID: "s3"}},
			{1, 0, models.Change{UserID: u}},
		}, time.Second, []string{"session s1", "session s2", "session s3", "user " + u.Hex()}, true},
		{"publisher's clock behind, within the look-back", []publish{{1, -8 * time.Second, models.Change{SessionID: "s1"}}},
			time.Second, []string{"session s1"}, true},
		{"publisher's clock ahead, within the look-ahead", []publish{{1, 4 * time.Second, models.Change{SessionID: "s1"}}},
			time.Second, []string{"session s1"}, true},
		{"a gap of more than a minute", []publish{{0, 0, models.Change{SessionID: "s1"}}},
			2 * time.Minute, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stores := openShared(t, srv, 3)
			reader := stores[2]
			var cur models.ChangeCursor
			if got, b := mustRead(t, reader, &cur, t0); len(got) != 0 || b.Complete {
				t.Fatalf("first read: %v complete %v, want nothing, incomplete", got, b.Complete)
			}
			var wg sync.WaitGroup
			for _, p := range tt.publishes {
				wg.Go(func() {
					if err := stores[p.by].PublishChange(testContext(t), p.ch, t0.Add(p.at)); err != nil {
						t.Errorf("PublishChange(%s): %v", changeString(p.ch), err)
					}
				})
			}
			wg.Wait()
			got, b := mustRead(t, reader, &cur, t0.Add(tt.readAt))
			if !slices.Equal(got, tt.want) || b.Complete != tt.complete {
				t.Errorf("read: %q complete %v, want %q complete %v", got, b.Complete, tt.want, tt.complete)
			}
			if b.Reads > 100 {
				t.Errorf("read made %d lookups; want about one per second of its window", b.Reads)
			}
			if got, _ := mustRead(t, reader, &cur, t0.Add(tt.readAt+time.Second)); len(got) != 0 {
				t.Errorf("next read: %q, want nothing new", got)
			}
		})
	}
}

// TestChangeFeed_SecondReadAgain: a change published in a second the
// reader has already read (its publisher was slow, or its clock behind)
// is read at the next poll, and only that change.
func TestChangeFeed_SecondReadAgain(t *testing.T) {
	stores := openShared(t, storetest.NewServer(t), 2)
	pub, reader := stores[0], stores[1]
	t0 := time.Unix(1_800_000_000, 0)
	var cur models.ChangeCursor
	mustRead(t, reader, &cur, t0)
	ctx := testContext(t)
	if err := pub.PublishChange(ctx, models.Change{SessionID: "first"}, t0); err != nil {
		t.Fatal(err)
	}
	if got, _ := mustRead(t, reader, &cur, t0.Add(time.Second)); !slices.Equal(got, []string{"session first"}) {
		t.Fatalf("read at t0+1s: %q", got)
	}
	// Another change in second t0, after the reader read it.
	if err := pub.PublishChange(ctx, models.Change{SessionID: "second"}, t0.Add(900*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got, _ := mustRead(t, reader, &cur, t0.Add(2*time.Second)); !slices.Equal(got, []string{"session second"}) {
		t.Errorf("read at t0+2s: %q, want only the second change", got)
	}
}

func TestPublishChange_NeedsOneName(t *testing.T) {
	s, _ := newStore(t)
	for _, ch := range []models.Change{{}, {UserID: bson.NewObjectID(), SessionID: "s"}} {
		if err := s.PublishChange(testContext(t), ch, t0); err == nil {
			t.Errorf("PublishChange(%+v) succeeded, want an error", ch)
		}
	}
}

// TestDeleteOldChanges: changes older than ChangeRetention go; newer
// ones stay readable.
func TestDeleteOldChanges(t *testing.T) {
	s, db := newStore(t)
	ctx := testContext(t)
	now := time.Unix(1_800_000_000, 0)
	if err := s.PublishChange(ctx, models.Change{SessionID: "old"}, now.Add(-models.ChangeRetention-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.PublishChange(ctx, models.Change{SessionID: "new"}, now); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteOldChanges(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("DeleteOldChanges = %d, %v; want 1", n, err)
	}
	if got := mustCount(t, db, "changes", bson.D{}); got != 1 {
		t.Errorf("%d changes left, want 1", got)
	}
	var cur models.ChangeCursor
	if got, _ := mustRead(t, s, &cur, now); !slices.Equal(got, []string{"session new"}) {
		t.Errorf("read: %q", got)
	}
}

// TestTouchSessions: one call sets last_seen on every named session that
// exists, by ID or key, and creates nothing for a missing one.
func TestTouchSessions(t *testing.T) {
	s, db := newStore(t)
	ctx := testContext(t)
	user := bson.NewObjectID()
	for _, id := range []string{"a", "b", "c"} {
		doc := bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: user}, {Key: "expires_at", Value: t0.Add(time.Hour)}}
		if _, err := db.Collection("sessions").InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TouchSessions(ctx, []string{"a", "b.secret", "missing"}, t0); err != nil {
		t.Fatalf("TouchSessions: %v", err)
	}
	want := t0.UTC().Truncate(time.Millisecond)
	for id, touched := range map[string]bool{"a": true, "b": true, "c": false} {
		got, _ := mustRaw(t, db, "sessions", id)["last_seen"].(bson.DateTime)
		if touched != (got.Time().Equal(want)) {
			t.Errorf("session %s: last_seen %v, touched %v", id, got.Time(), touched)
		}
	}
	if n := mustCount(t, db, "sessions", bson.D{}); n != 3 {
		t.Errorf("%d sessions after the touch, want 3", n)
	}
	if err := s.TouchSessions(ctx, nil, t0); err != nil {
		t.Errorf("TouchSessions(nil): %v", err)
	}
}

// TestTouchSessions_Many: more sessions than FerretDB has SQLite
// connections are touched in several commands, not one that waits for
// itself forever.
func TestTouchSessions_Many(t *testing.T) {
	s, db := newStore(t)
	ctx, cancel := context.WithTimeout(testContext(t), 15*time.Second)
	defer cancel()
	const n = 250
	ids := make([]string, n)
	docs := make([]any, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%03d", i)
		docs[i] = bson.D{{Key: "_id", Value: ids[i]}, {Key: "expires_at", Value: t0.Add(time.Hour)}}
	}
	if _, err := db.Collection("sessions").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSessions(ctx, ids, t0); err != nil {
		t.Fatalf("TouchSessions(%d): %v", n, err)
	}
	if got := mustCount(t, db, "sessions", bson.D{{Key: "last_seen", Value: t0.UTC().Truncate(time.Millisecond)}}); got != n {
		t.Errorf("%d sessions touched, want %d", got, n)
	}
}
