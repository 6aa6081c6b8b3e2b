package models_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

func TestSessionsByUserTouchAndDelete(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	alice, bob := bson.NewObjectID(), bson.NewObjectID()
	keys := map[string]string{} // name -> key
	for _, x := range []struct {
		name string
		sess models.Session
	}{
		{"a-old", models.Session{UserID: alice, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(time.Hour)}},
		{"a-new", models.Session{UserID: alice, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}},
		{"a-expired", models.Session{UserID: alice, CreatedAt: now.Add(-3 * time.Hour), ExpiresAt: now}},
		{"b", models.Session{UserID: bob, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}},
	} {
		sess, err := s.CreateSession(ctx, x.sess)
		if err != nil {
			t.Fatal(err)
		}
		keys[x.name] = sess.Key()
	}
	names := func() []string {
		list, err := s.SessionsByUser(ctx, alice, now)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range list {
			for name, key := range keys {
				if key == x.Key() {
					out = append(out, name)
				}
			}
		}
		return out
	}
	if got := names(); len(got) != 2 || got[0] != "a-new" || got[1] != "a-old" {
		t.Fatalf("alice's live sessions = %v, want [a-new a-old]", got)
	}

	if err := s.TouchSessions(ctx, []string{keys["a-new"]}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if sess, err := s.SessionByID(ctx, keys["a-new"], now); err != nil || !sess.LastSeen.Equal(now.Add(time.Minute)) {
		t.Errorf("after touch: %+v, %v", sess, err)
	}
	if err := s.TouchSessions(ctx, []string{"no-such-session"}, now); err != nil {
		t.Errorf("touching a missing session: %v", err)
	}

	// Bob cannot end Alice's session; Alice can.
	if ok, err := s.DeleteUserSession(ctx, bob, keys["a-old"]); err != nil || ok {
		t.Errorf("bob ending alice's session: %v, %v", ok, err)
	}
	if ok, err := s.DeleteUserSession(ctx, alice, keys["a-old"]); err != nil || !ok {
		t.Errorf("alice ending her session: %v, %v", ok, err)
	}
	if got := names(); len(got) != 1 || got[0] != "a-new" {
		t.Errorf("after ending a-old: %v", got)
	}
}

// TestExpiredSessionsAreRecorded: the janitor deletes expired sessions and
// records each expiry once in the owner's activity, even when two
// instances run it at once.
func TestExpiredSessionsAreRecorded(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	alice := bson.NewObjectID()
	var live string
	for _, sess := range []models.Session{
		{UserID: alice, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{UserID: alice, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now},
		{UserID: alice, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		created, err := s.CreateSession(ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		live = created.Key()
	}
	counts := make(chan int64, 2)
	for range 2 {
		go func() {
			n, err := s.DeleteExpiredSessions(ctx, now)
			if err != nil {
				t.Error(err)
			}
			counts <- n
		}()
	}
	if total := <-counts + <-counts; total != 2 {
		t.Errorf("two janitors deleted %d sessions in all, want 2", total)
	}
	events, err := s.EventsByUser(ctx, alice, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("%d events, want 2 (one per expired session): %+v", len(events), events)
	}
	for _, ev := range events {
		if ev.Kind != models.EventSessionEnded || ev.Detail != "expired" {
			t.Errorf("event %+v, want session-ended / expired", ev)
		}
	}
	if _, err := s.SessionByID(ctx, live, now); err != nil {
		t.Errorf("live session: %v", err)
	}
}

// TestSessionsByUser_HolesAndStaleDigest: sessions ended in the middle of
// a user's numbers, and a digest left behind by a crash or a lost race, do
// not hide any live session from the list or from log out everywhere.
func TestSessionsByUser_HolesAndStaleDigest(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	user := bson.NewObjectID()
	var keys []string
	for i := range 6 {
		sess, err := s.CreateSession(ctx, models.Session{UserID: user, CreatedAt: t0.Add(time.Duration(i) * time.Minute), ExpiresAt: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, sess.Key())
	}
	for _, i := range []int{1, 3, 4} { // holes, two of them in a row
		if err := s.DeleteSession(ctx, keys[i]); err != nil {
			t.Fatal(err)
		}
	}
	_, err := db.Collection("recent").UpdateOne(ctx, bson.D{{Key: "_id", Value: "events:" + user.Hex()}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "sessions", Value: bson.M{"seq": 1, "low": 1}}}}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.SessionsByUser(ctx, user, t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range list {
		got = append(got, x.Key())
	}
	if want := []string{keys[5], keys[2], keys[0]}; !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if n, err := s.DeleteUserSessions(ctx, user); err != nil || n != 3 {
		t.Errorf("DeleteUserSessions = %d, %v; want 3", n, err)
	}
	if got := mustCount(t, db, "sessions", bson.D{{Key: "user_id", Value: user}}); got != 0 {
		t.Errorf("%d sessions left after log out everywhere", got)
	}
}
