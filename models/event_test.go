package models_test

import (
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

func TestRecordEvent_RefusesMissingUserOrKind(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	if err := s.RecordEvent(ctx, models.Event{Kind: models.EventSignIn}); err == nil {
		t.Error("RecordEvent without a user succeeded")
	}
	if err := s.RecordEvent(ctx, models.Event{UserID: bson.NewObjectID()}); err == nil {
		t.Error("RecordEvent without a kind succeeded")
	}
}

func TestEventsByUser(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	alice, bob := bson.NewObjectID(), bson.NewObjectID()

	record := func(ev models.Event) {
		t.Helper()
		if err := s.RecordEvent(ctx, ev); err != nil {
			t.Fatalf("RecordEvent(%+v): %v", ev, err)
		}
	}
	record(models.Event{UserID: alice, Kind: models.EventSignIn, Flow: "oauth2", At: t0, Client: "Firefox", IPPrefix: "192.0.2.0/24"})
	record(models.Event{UserID: bob, Kind: models.EventSignIn, Flow: "oauth1", At: t0.Add(time.Hour)})
	record(models.Event{UserID: alice, Kind: models.EventSignOut, At: t0.Add(time.Second)})
	record(models.Event{UserID: alice, Kind: models.EventSessionEnded, At: t0.Add(time.Second), Detail: "logout"})

	evs, err := s.EventsByUser(ctx, alice, 10)
	if err != nil {
		t.Fatalf("EventsByUser: %v", err)
	}
	var kinds []models.EventKind
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
		if ev.UserID != alice {
			t.Errorf("event %+v is not alice's", ev)
		}
	}
	want := []models.EventKind{models.EventSessionEnded, models.EventSignOut, models.EventSignIn}
	if !slices.Equal(kinds, want) {
		t.Fatalf("kinds = %v, want %v (newest first, ties by _id)", kinds, want)
	}
	if got := evs[2]; got.Flow != "oauth2" || got.Client != "Firefox" || got.IPPrefix != "192.0.2.0/24" ||
		!got.At.Equal(t0.UTC().Truncate(time.Millisecond)) {
		t.Errorf("sign-in event = %+v", got)
	}
	if evs, err := s.EventsByUser(ctx, alice, 0); err != nil || evs == nil || len(evs) != 0 {
		t.Errorf("EventsByUser(limit 0) = %v, %v; want empty", evs, err)
	}

	t.Run("CappedPerUser", func(t *testing.T) {
		carol := bson.NewObjectID()
		const n = models.MaxEventsPerUser + 40
		for i := range n {
			record(models.Event{UserID: carol, Kind: models.EventTokenIssued, At: t0.Add(time.Duration(i) * time.Second), Detail: "n"})
		}
		// Recording trims now and then (one insert in 16)...
		if got := mustCount(t, db, "events", bson.D{{Key: "user_id", Value: carol}}); got < models.MaxEventsPerUser || got > models.MaxEventsPerUser+15 {
			t.Errorf("carol has %d events, want between %d and %d", got, models.MaxEventsPerUser, models.MaxEventsPerUser+15)
		}
		// ...and a trim keeps exactly the newest.
		if err := s.TrimEvents(ctx, carol); err != nil {
			t.Fatal(err)
		}
		if got := mustCount(t, db, "events", bson.D{{Key: "user_id", Value: carol}}); got != models.MaxEventsPerUser {
			t.Errorf("after TrimEvents carol has %d events, want %d", got, models.MaxEventsPerUser)
		}
		evs, err := s.EventsByUser(ctx, carol, 1)
		if err != nil || len(evs) != 1 || !evs[0].At.Equal(t0.Add((n-1)*time.Second).UTC().Truncate(time.Millisecond)) {
			t.Errorf("newest of carol = %v, %v; want the last one recorded", evs, err)
		}
		// Other users keep theirs.
		if n := mustCount(t, db, "events", bson.D{{Key: "user_id", Value: alice}}); n != 3 {
			t.Errorf("alice has %d events, want 3", n)
		}
	})
}
