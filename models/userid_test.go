package models_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

func TestUserIDFor(t *testing.T) {
	tests := []struct {
		twitterID string
		want      string // hex, "" for an error
	}{
		{"1", "747774720000000000000001"},
		{"2244994945", "747774720000000085cfe781"},
		{"18446744073709551615", "74777472ffffffffffffffff"},
		{"18446744073709551616", ""}, // over 64 bits
		{"", ""},
		{"-1", ""},
		{"+1", ""},
		{"12a", ""},
		{"1e3", ""},
		{" 1", ""},
	}
	for _, tt := range tests {
		id, err := models.UserIDFor(tt.twitterID)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("UserIDFor(%q) = %s, want an error", tt.twitterID, id.Hex())
		case tt.want != "" && (err != nil || id.Hex() != tt.want):
			t.Errorf("UserIDFor(%q) = %s, %v; want %s", tt.twitterID, id.Hex(), err, tt.want)
		}
	}
}

// TestRecordSignIn: the id comes back without a read for derived ids, and
// a user whose _id predates derived ids keeps it.
func TestRecordSignIn(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	want, _ := models.UserIDFor("4242")
	for range 2 {
		id, err := s.RecordSignIn(ctx, models.TwitterProfile{ID: "4242", Handle: "h", Name: "N"}, models.ProviderToken{Flow: "oauth2", AccessToken: "a"}, time.Now())
		if err != nil || id != want {
			t.Fatalf("RecordSignIn = %s, %v; want %s", id.Hex(), err, want.Hex())
		}
	}
	legacy := bson.NewObjectID()
	if err := s.ImportUsers(ctx, []models.User{{ID: legacy, TwitterID: "4343", Handle: "old"}}); err != nil {
		t.Fatal(err)
	}
	id, err := s.RecordSignIn(ctx, models.TwitterProfile{ID: "4343", Handle: "new"}, models.ProviderToken{Flow: "oauth1"}, time.Now())
	if err != nil || id != legacy {
		t.Fatalf("legacy user: RecordSignIn = %s, %v; want %s", id.Hex(), err, legacy.Hex())
	}
	if u, err := s.UserByID(ctx, legacy); err != nil || u.Handle != "new" {
		t.Errorf("legacy user after sign-in: %+v, %v", u, err)
	}
}
