package models_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

func TestUpsertTwitterUser_CreatesThenUpdates(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)

	type login struct {
		profile models.TwitterProfile
		token   models.ProviderToken
		now     time.Time
	}
	logins := []struct {
		name string
		login
	}{
		{"first login creates", login{
			models.TwitterProfile{ID: "2244994945", Handle: "alice", Name: "Alice", AvatarURL: "https://pbs.twimg.com/a.jpg"},
			models.ProviderToken{Flow: "oauth1", AccessToken: "tok1", TokenSecret: "sec1"},
			t0,
		}},
		{"renamed user updates the same document", login{
			models.TwitterProfile{ID: "2244994945", Handle: "alice2", Name: "Alice Two"},
			models.ProviderToken{Flow: "oauth2", AccessToken: "tok2", RefreshToken: "ref2", Expiry: t0.Add(2 * time.Hour)},
			t0.Add(time.Hour),
		}},
	}

	var first *models.User
	for _, tc := range logins {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.UpsertTwitterUser(ctx, tc.profile, tc.token, tc.now)
			if err != nil {
				t.Fatalf("UpsertTwitterUser: %v", err)
			}
			if first == nil {
				first = u
			}
			if u.ID.IsZero() || u.ID != first.ID {
				t.Errorf("ID = %v, want non-zero and %v", u.ID, first.ID)
			}
			want := models.User{
				ID:        first.ID,
				TwitterID: tc.profile.ID,
				Handle:    tc.profile.Handle,
				Name:      tc.profile.Name,
				AvatarURL: tc.profile.AvatarURL,
				Token:     &tc.token,
				CreatedAt: t0.UTC().Truncate(time.Millisecond),
				UpdatedAt: tc.now.UTC().Truncate(time.Millisecond),
			}
			want.Token.Expiry = want.Token.Expiry.UTC().Truncate(time.Millisecond)
			if !sameUser(u, &want) {
				t.Errorf("UpsertTwitterUser =\n%s\nwant\n%s", userString(u), userString(&want))
			}
			// What UserByID reads equals what the upsert returned.
			got, err := s.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			if !sameUser(got, u) {
				t.Errorf("UserByID =\n%s\nwant\n%s", userString(got), userString(u))
			}
			if n := mustCount(t, db, "users", bson.D{{Key: "twitter_id", Value: tc.profile.ID}}); n != 1 {
				t.Errorf("%d documents for the Twitter id, want 1", n)
			}
		})
	}
}

func TestUpsertTwitterUser_StoresTokenFieldsSparingly(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	u, err := s.UpsertTwitterUser(testContext(t), models.TwitterProfile{ID: "1", Handle: "a"},
		models.ProviderToken{Flow: "oauth1", AccessToken: "x", TokenSecret: "y"}, t0)
	if err != nil {
		t.Fatalf("UpsertTwitterUser: %v", err)
	}
	var raw bson.Raw
	if err := db.Collection("users").FindOne(testContext(t), bson.D{{Key: "_id", Value: u.ID}}).Decode(&raw); err != nil {
		t.Fatalf("find user: %v", err)
	}
	for _, absent := range []string{"refresh_token", "expiry"} {
		if _, err := raw.LookupErr("token", absent); err == nil {
			t.Errorf("stored token has %q, want it omitted when empty: %v", absent, raw)
		}
	}
	if v, err := raw.LookupErr("token", "token_secret"); err != nil || v.StringValue() != "y" {
		t.Errorf("stored token_secret = %v, %v; want \"y\"", v, err)
	}
}

func TestUpsertTwitterUser_ConcurrentFirstLogins(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)

	const logins = 8
	var (
		wg    sync.WaitGroup
		ids   [logins]bson.ObjectID
		errs  [logins]error
		start = make(chan struct{})
	)
	for i := range logins {
		wg.Go(func() {
			<-start
			u, err := s.UpsertTwitterUser(ctx, models.TwitterProfile{ID: "783214", Handle: fmt.Sprintf("h%d", i)},
				models.ProviderToken{Flow: "oauth2", AccessToken: fmt.Sprint(i)}, t0)
			errs[i] = err
			if err == nil {
				ids[i] = u.ID
			}
		})
	}
	close(start)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("login %d: %v", i, err)
		} else if ids[i] != ids[0] {
			t.Errorf("login %d got user %v, login 0 got %v", i, ids[i], ids[0])
		}
	}
	if n := mustCount(t, db, "users", bson.D{}); n != 1 {
		t.Errorf("%d user documents, want 1", n)
	}
}

func TestUpsertTwitterUser_EmptyID(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	if _, err := s.UpsertTwitterUser(testContext(t), models.TwitterProfile{Handle: "x"}, models.ProviderToken{}, t0); err == nil {
		t.Fatal("UpsertTwitterUser with empty id: err = nil, want an error")
	}
	if n := mustCount(t, db, "users", bson.D{}); n != 0 {
		t.Errorf("%d user documents, want 0", n)
	}
}

func TestUserByID_Missing(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	mustUpsert(t, s, "42", t0)
	for _, tc := range []struct {
		name string
		id   bson.ObjectID
	}{
		{"random id", bson.NewObjectID()},
		{"zero id", bson.ObjectID{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.UserByID(testContext(t), tc.id); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("UserByID = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestUserByTwitterID(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	u := mustUpsert(t, s, "42", t0)
	tests := []struct {
		name      string
		twitterID string
		wantErr   error
	}{
		{"found", "42", nil},
		{"missing", "43", models.ErrNotFound},
		{"empty", "", models.ErrNotFound},
		{"operator-looking", `{"$ne":null}`, models.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.UserByTwitterID(testContext(t), tc.twitterID)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("UserByTwitterID = %v, want %v", err, tc.wantErr)
			}
			if err == nil && !sameUser(got, u) {
				t.Errorf("UserByTwitterID =\n%s\nwant\n%s", userString(got), userString(u))
			}
		})
	}
}

func TestClearProviderToken(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	u := mustUpsert(t, s, "42", t0)

	tests := []struct {
		name    string
		id      bson.ObjectID
		wantErr error
	}{
		{"clears the token", u.ID, nil},
		{"clearing again is fine", u.ID, nil},
		{"missing user", bson.NewObjectID(), models.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.ClearProviderToken(ctx, tc.id); !errors.Is(err, tc.wantErr) {
				t.Fatalf("ClearProviderToken = %v, want %v", err, tc.wantErr)
			}
		})
	}
	got, err := s.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	if got.Token != nil {
		t.Errorf("Token = %+v, want nil", got.Token)
	}
	if _, ok := mustRaw(t, db, "users", u.ID)["token"]; ok {
		t.Error("stored user still has a token field")
	}
	if got.Handle != u.Handle {
		t.Errorf("Handle = %q, want %q (only the token is cleared)", got.Handle, u.Handle)
	}
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	alice := mustUpsert(t, s, "1", t0)
	bob := mustUpsert(t, s, "2", t0)
	for _, owner := range []bson.ObjectID{alice.ID, alice.ID, bob.ID} {
		if _, err := s.CreateSession(ctx, models.Session{UserID: owner, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if _, err := s.InsertRecord(ctx, owner, "text", t0); err != nil {
			t.Fatalf("InsertRecord: %v", err)
		}
	}

	if err := s.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if err := s.DeleteUser(ctx, alice.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("DeleteUser again = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByID(ctx, alice.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("UserByID(deleted) = %v, want ErrNotFound", err)
	}

	counts := []struct {
		coll  string
		field string
		owner bson.ObjectID
		want  int64
	}{
		{"users", "_id", alice.ID, 0},
		{"sessions", "user_id", alice.ID, 0},
		{"records", "owner_id", alice.ID, 0},
		{"users", "_id", bob.ID, 1},
		{"sessions", "user_id", bob.ID, 1},
		{"records", "owner_id", bob.ID, 1},
	}
	for _, c := range counts {
		if n := mustCount(t, db, c.coll, bson.D{{Key: c.field, Value: c.owner}}); n != c.want {
			t.Errorf("%s with %s %v: %d, want %d", c.coll, c.field, c.owner.Hex(), n, c.want)
		}
	}
}

// sameUser reports whether two users are equal, comparing tokens by value.
func sameUser(a, b *models.User) bool {
	if (a.Token == nil) != (b.Token == nil) || (a.Token != nil && *a.Token != *b.Token) {
		return false
	}
	if !slices.Equal(a.Roles, b.Roles) {
		return false
	}
	ac, bc := *a, *b
	ac.Token, bc.Token = nil, nil
	ac.Roles, bc.Roles = nil, nil
	return reflect.DeepEqual(ac, bc)
}

func userString(u *models.User) string {
	c := *u
	c.Token = nil
	if u.Token == nil {
		return fmt.Sprintf("%+v token=<nil>", c)
	}
	return fmt.Sprintf("%+v token=%+v", c, *u.Token)
}
