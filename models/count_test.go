package models_test

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

func TestCountLiveSessions(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)

	if n, err := s.CountLiveSessions(ctx, t0); err != nil || n != 0 {
		t.Fatalf("CountLiveSessions on an empty store = %d, %v; want 0, nil", n, err)
	}
	uid := bson.NewObjectID()
	// Sessions expiring 1h, 2h and 3h after t0.
	for i := 1; i <= 3; i++ {
		sess := models.Session{UserID: uid, CreatedAt: t0, ExpiresAt: t0.Add(time.Duration(i) * time.Hour)}
		if _, err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	expiry := t0.Add(time.Hour).UTC().Truncate(time.Millisecond)
	tests := []struct {
		name string
		now  time.Time
		want int64
	}{
		{"all live", t0, 3},
		{"a millisecond before the first expiry", expiry.Add(-time.Millisecond), 3},
		{"exactly at the first expiry", expiry, 2},
		{"after two expiries", t0.Add(150 * time.Minute), 1},
		{"all expired", t0.Add(4 * time.Hour), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.CountLiveSessions(ctx, tc.now)
			if err != nil {
				t.Fatalf("CountLiveSessions: %v", err)
			}
			if n != tc.want {
				t.Errorf("CountLiveSessions(%s) = %d, want %d", tc.now, n, tc.want)
			}
		})
	}
}
