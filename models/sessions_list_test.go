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
