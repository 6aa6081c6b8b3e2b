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
	want := models.Session{ID: "sess-1", UserID: uid, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), UserAgent: "Firefox"}
	if err := s.CreateSession(ctx, want); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	want.CreatedAt = want.CreatedAt.UTC().Truncate(time.Millisecond)
	want.ExpiresAt = want.ExpiresAt.UTC().Truncate(time.Millisecond)

	tests := []struct {
		name    string
		id      string
		now     time.Time
		wantErr error
	}{
		{"valid", "sess-1", t0, nil},
		{"valid a millisecond before expiry", "sess-1", want.ExpiresAt.Add(-time.Millisecond), nil},
		{"expired exactly at expires_at", "sess-1", want.ExpiresAt, models.ErrNotFound},
		{"expired later", "sess-1", t0.Add(2 * time.Hour), models.ErrNotFound},
		{"missing", "sess-2", t0, models.ErrNotFound},
		{"empty id", "", t0, models.ErrNotFound},
		{"operator-looking id", `{"$gt":""}`, t0, models.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.SessionByID(ctx, tc.id, tc.now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("SessionByID = %v, want %v", err, tc.wantErr)
			}
			if err == nil && *got != want {
				t.Errorf("SessionByID =\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
}

func TestCreateSession_Rejects(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	if err := s.CreateSession(ctx, models.Session{ID: "dup", UserID: bson.NewObjectID(), ExpiresAt: t0}); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	for _, tc := range []struct {
		name string
		sess models.Session
	}{
		{"empty id", models.Session{UserID: bson.NewObjectID(), ExpiresAt: t0}},
		{"duplicate id", models.Session{ID: "dup", UserID: bson.NewObjectID(), ExpiresAt: t0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.CreateSession(ctx, tc.sess); err == nil {
				t.Error("CreateSession: err = nil, want an error")
			}
		})
	}
}

func TestDeleteSession_Idempotent(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	if err := s.CreateSession(ctx, models.Session{ID: "s", UserID: bson.NewObjectID(), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	for _, name := range []string{"existing", "already deleted"} {
		t.Run(name, func(t *testing.T) {
			if err := s.DeleteSession(ctx, "s"); err != nil {
				t.Errorf("DeleteSession = %v, want nil", err)
			}
			if _, err := s.SessionByID(ctx, "s", t0); !errors.Is(err, models.ErrNotFound) {
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
	for _, sess := range []models.Session{
		{ID: "a1", UserID: alice, ExpiresAt: t0.Add(time.Hour)},
		{ID: "a2", UserID: alice, ExpiresAt: t0.Add(time.Hour)},
		{ID: "b1", UserID: bob, ExpiresAt: t0.Add(time.Hour)},
	} {
		if err := s.CreateSession(ctx, sess); err != nil {
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
		{ID: "e1", UserID: uid, ExpiresAt: t0.Add(-time.Hour)},
		{ID: "e2", UserID: uid, ExpiresAt: t0}, // expires exactly now: expired
		{ID: "v1", UserID: uid, ExpiresAt: t0.Add(time.Millisecond)},
		{ID: "v2", UserID: uid, ExpiresAt: t0.Add(time.Hour)},
	} {
		if err := s.CreateSession(ctx, sess); err != nil {
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
