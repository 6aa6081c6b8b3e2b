package models_test

import (
	"context"
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
	for _, sess := range []models.Session{
		{ID: "a-old", UserID: alice, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(time.Hour)},
		{ID: "a-new", UserID: alice, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
		{ID: "a-expired", UserID: alice, CreatedAt: now.Add(-3 * time.Hour), ExpiresAt: now},
		{ID: "b", UserID: bob, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() []string {
		list, err := s.SessionsByUser(ctx, alice, now)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range list {
			out = append(out, x.ID)
		}
		return out
	}
	if got := ids(); len(got) != 2 || got[0] != "a-new" || got[1] != "a-old" {
		t.Fatalf("alice's live sessions = %v, want [a-new a-old]", got)
	}

	if err := s.TouchSession(ctx, "a-new", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if sess, err := s.SessionByID(ctx, "a-new", now); err != nil || !sess.LastSeen.Equal(now.Add(time.Minute)) {
		t.Errorf("after touch: %+v, %v", sess, err)
	}
	if err := s.TouchSession(ctx, "no-such-session", now); err != nil {
		t.Errorf("touching a missing session: %v", err)
	}

	// Bob cannot end Alice's session; Alice can.
	if ok, err := s.DeleteUserSession(ctx, bob, "a-old"); err != nil || ok {
		t.Errorf("bob ending alice's session: %v, %v", ok, err)
	}
	if ok, err := s.DeleteUserSession(ctx, alice, "a-old"); err != nil || !ok {
		t.Errorf("alice ending her session: %v, %v", ok, err)
	}
	if got := ids(); len(got) != 1 || got[0] != "a-new" {
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
	for _, sess := range []models.Session{
		{ID: "gone-1", UserID: alice, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{ID: "gone-2", UserID: alice, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now},
		{ID: "live", UserID: alice, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
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
	if _, err := s.SessionByID(ctx, "live", now); err != nil {
		t.Errorf("live session: %v", err)
	}
}
