package models_test

import (
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

func TestSessionByID(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	uid := bson.NewObjectID()
	created, err := s.CreateSession(ctx, models.Session{UserID: uid, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), UserAgent: "Firefox"})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	want := models.Session{
		ID: created.ID, Secret: created.Secret, UserID: uid, Seq: 1,
		CreatedAt: t0.UTC().Truncate(time.Millisecond), ExpiresAt: t0.Add(time.Hour).UTC().Truncate(time.Millisecond),
		UserAgent: "Firefox",
	}
	if *created != want {
		t.Fatalf("CreateSession =\n%+v\nwant\n%+v", *created, want)
	}
	key := created.Key()
	other, err := s.CreateSession(ctx, models.Session{UserID: uid, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}

	tests := []struct {
		name    string
		key     string
		now     time.Time
		wantErr error
	}{
		{"valid", key, t0, nil},
		{"valid a millisecond before expiry", key, want.ExpiresAt.Add(-time.Millisecond), nil},
		{"expired exactly at expires_at", key, want.ExpiresAt, models.ErrNotFound},
		{"expired later", key, t0.Add(2 * time.Hour), models.ErrNotFound},
		{"id without its secret", created.ID, t0, models.ErrNotFound},
		{"empty secret", created.ID + ".", t0, models.ErrNotFound},
		{"another session's secret", created.ID + "." + other.Secret, t0, models.ErrNotFound},
		{"missing", bson.NewObjectID().Hex() + "." + created.Secret, t0, models.ErrNotFound},
		{"empty key", "", t0, models.ErrNotFound},
		{"operator-looking key", `{"$gt":""}.x`, t0, models.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.SessionByID(ctx, tc.key, tc.now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("SessionByID = %v, want %v", err, tc.wantErr)
			}
			if err == nil && *got != want {
				t.Errorf("SessionByID =\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
}

func TestCreateSession_Numbers(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	if _, err := s.CreateSession(ctx, models.Session{ExpiresAt: t0}); err == nil {
		t.Error("CreateSession without a user: err = nil, want an error")
	}
	alice, bob := bson.NewObjectID(), bson.NewObjectID()
	seen := map[string]bool{}
	for i, user := range []bson.ObjectID{alice, alice, bob, alice} {
		sess, err := s.CreateSession(ctx, models.Session{UserID: user, ExpiresAt: t0.Add(time.Hour)})
		if err != nil {
			t.Fatalf("CreateSession %d: %v", i, err)
		}
		if seen[sess.ID] || seen[sess.Secret] || len(sess.Secret) < 26 {
			t.Errorf("session %d: id %s, secret %q: repeated or short", i, sess.ID, sess.Secret)
		}
		seen[sess.ID], seen[sess.Secret] = true, true
	}
}

func TestDeleteSession_Idempotent(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	sess, err := s.CreateSession(ctx, models.Session{UserID: bson.NewObjectID(), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	for _, name := range []string{"existing", "already deleted"} {
		t.Run(name, func(t *testing.T) {
			if err := s.DeleteSession(ctx, sess.Key()); err != nil {
				t.Errorf("DeleteSession = %v, want nil", err)
			}
			if _, err := s.SessionByID(ctx, sess.Key(), t0); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("SessionByID after delete = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDeleteUserSessions(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	alice, bob := bson.NewObjectID(), bson.NewObjectID()
	for _, user := range []bson.ObjectID{alice, alice, bob} {
		if _, err := s.CreateSession(ctx, models.Session{UserID: user, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	for _, tc := range []struct {
		name string
		user bson.ObjectID
		want int64
	}{
		{"alice's two", alice, 2},
		{"none left", alice, 0},
		{"bob's one", bob, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.DeleteUserSessions(ctx, tc.user)
			if err != nil || n != tc.want {
				t.Errorf("DeleteUserSessions = %d, %v; want %d, nil", n, err, tc.want)
			}
		})
	}
}

func TestDeleteExpiredSessions(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	uid := bson.NewObjectID()
	for _, sess := range []models.Session{
		{UserID: uid, ExpiresAt: t0.Add(-time.Hour)},
		{UserID: uid, ExpiresAt: t0}, // expires exactly now: expired
		{UserID: uid, ExpiresAt: t0.Add(time.Millisecond)},
		{UserID: uid, ExpiresAt: t0.Add(time.Hour)},
	} {
		if _, err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		want int64
	}{
		{"two expired", t0, 2},
		{"nothing more", t0, 0},
		{"one more after a millisecond", t0.Add(time.Millisecond), 1},
		{"the last after an hour", t0.Add(time.Hour), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.DeleteExpiredSessions(ctx, tc.now)
			if err != nil || n != tc.want {
				t.Errorf("DeleteExpiredSessions = %d, %v; want %d, nil", n, err, tc.want)
			}
		})
	}
}
