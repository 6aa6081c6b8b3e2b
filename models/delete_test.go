package models_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// TestDeleteAccount: the account, its records, sessions and digests go,
// the credential waits in the outbox, another user keeps everything, and
// a second call (as the sweep makes) is harmless.
func TestDeleteAccount(t *testing.T) {
	s, db := newStore(t)
	ctx := testContext(t)
	now := time.Now()
	var ids []bson.ObjectID
	for _, p := range []models.TwitterProfile{{ID: "1001", Handle: "ada"}, {ID: "1002", Handle: "grace"}} {
		id, err := s.RecordSignIn(ctx, p, models.ProviderToken{Flow: "oauth2", AccessToken: "at-" + p.ID}, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.InsertRecord(ctx, id, "note of "+p.Handle, now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSession(ctx, models.Session{UserID: id, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	d, err := s.DeleteAccount(ctx, ids[0], models.Revocation{RequestID: "r1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Records != 1 || d.Sessions != 1 || !d.UserFound || d.OutboxID == "" {
		t.Errorf("DeleteAccount = %+v, want 1 record, 1 session, the user and an outbox entry", d)
	}
	if _, err := s.UserByID(ctx, ids[0]); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("the user after DeleteAccount: %v", err)
	}
	if n, _ := db.Collection("recent").CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$regex", Value: ids[0].Hex()}}}}); n != 0 {
		t.Errorf("%d digests of the deleted user left", n)
	}
	if recs, err := s.RecordsByOwner(ctx, ids[1], 10); err != nil || len(recs) != 1 {
		t.Errorf("the other user's records: %v, %v", recs, err)
	}
	if pending, err := s.PendingDeletions(ctx); err != nil || len(pending) != 0 {
		t.Errorf("markers after a finished deletion: %v, %v", pending, err)
	}
	again, err := s.DeleteAccount(ctx, ids[0], models.Revocation{}, now)
	if err != nil || again.UserFound || again.Records != 0 || again.OutboxID != "" {
		t.Errorf("second DeleteAccount = %+v, %v; want nothing found and no error", again, err)
	}
}

// TestFindUser: by Twitter id or @handle (any case); unknown and
// malformed names are ErrNotFound; a handle two accounts share asks for
// the id.
func TestFindUser(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	for _, p := range []models.TwitterProfile{{ID: "1001", Handle: "ada"}, {ID: "1002", Handle: "twin"}, {ID: "1003", Handle: "Twin"}} {
		if _, err := s.RecordSignIn(ctx, p, models.ProviderToken{}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, who := range []string{"1001", "@ada", " @ADA "} {
		if u, err := s.FindUser(ctx, who); err != nil || u.TwitterID != "1001" || u.Token != nil {
			t.Errorf("FindUser(%q) = %+v, %v", who, u, err)
		}
	}
	for _, who := range []string{"@nobody", "9999", "ada", "@", ""} {
		if _, err := s.FindUser(ctx, who); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("FindUser(%q): %v, want ErrNotFound", who, err)
		}
	}
	if _, err := s.FindUser(ctx, "@twin"); err == nil || !strings.Contains(err.Error(), "give the Twitter id") {
		t.Errorf("FindUser of a shared handle: %v", err)
	}
}
