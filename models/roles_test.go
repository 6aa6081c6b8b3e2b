package models_test

import (
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

func TestNewUsersGetDefaultRoles(t *testing.T) {
	srv := storetest.NewServer(t)
	ctx := testContext(t)
	db := storetest.DatabaseName()
	s, err := models.Open(ctx, models.Options{URI: srv.URI(), Database: db, DefaultRoles: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	now := time.Now()

	u := mustUpsert(t, s, "42", now)
	if !slices.Equal(u.Roles, []string{"user"}) {
		t.Fatalf("new user roles %v, want [user]", u.Roles)
	}
	if err := s.SetUserRoles(ctx, u.ID, []string{"user", "admin"}); err != nil {
		t.Fatal(err)
	}
	// A later sign-in keeps the roles.
	if u = mustUpsert(t, s, "42", now); !slices.Equal(u.Roles, []string{"user", "admin"}) {
		t.Fatalf("roles after a second sign-in %v", u.Roles)
	}
	if err := s.SetUserRoles(ctx, bson.NewObjectID(), nil); err == nil {
		t.Error("SetUserRoles of a missing user = nil error")
	}
}

func TestUsersWithoutRolesGetDefaultsOnce(t *testing.T) {
	srv := storetest.NewServer(t)
	ctx := testContext(t)
	name := storetest.DatabaseName()
	s, err := models.Open(ctx, models.Options{URI: srv.URI(), Database: name, DefaultRoles: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	_, other := openStore(t, srv)
	db := other.Client().Database(name)
	// A user stored before roles existed.
	old := mustUpsert(t, s, "7", time.Now())
	if _, err := db.Collection("users").UpdateOne(ctx, bson.D{{Key: "_id", Value: old.ID}}, bson.D{{Key: "$unset", Value: bson.D{{Key: "roles", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if u := mustUpsert(t, s, "7", time.Now()); !slices.Equal(u.Roles, []string{"user"}) {
		t.Fatalf("a user without roles got %v at sign-in, want [user]", u.Roles)
	}
	if raw := mustRaw(t, db, "users", old.ID); raw["roles"] == nil {
		t.Errorf("roles not stored: %v", raw)
	}
}
