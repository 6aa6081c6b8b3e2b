package models_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

func TestImportUsers(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	users := []models.User{
		{ID: bson.NewObjectID(), TwitterID: "501", Handle: "a", Name: "A"},
		{ID: bson.NewObjectID(), TwitterID: "502", Handle: "b", Name: "B"},
	}
	if err := s.ImportUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserByTwitterID(ctx, "502")
	if err != nil || got.ID != users[1].ID || got.Handle != "b" {
		t.Fatalf("UserByTwitterID(502) = %+v, %v", got, err)
	}
	// The unique index still holds.
	if err := s.ImportUsers(ctx, users[:1]); err == nil {
		t.Error("importing a Twitter id twice succeeded")
	}
}
