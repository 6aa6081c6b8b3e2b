package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// TestRevokeTokens: the cutoff is stored to the millisecond, only moves
// forward, and TokenRevoked refuses tokens of its second and before.
func TestRevokeTokens(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	created := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	uid, err := s.RecordSignIn(ctx, models.TwitterProfile{ID: "77", Handle: "a", Name: "A"}, models.ProviderToken{Flow: "oauth2"}, created)
	if err != nil {
		t.Fatal(err)
	}
	cut := created.Add(time.Hour + 300*time.Millisecond)
	if err := s.RevokeTokens(ctx, uid, cut); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeTokens(ctx, uid, cut.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByID(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if !u.TokensRevokedAt.Equal(cut) {
		t.Errorf("TokensRevokedAt = %v, want %v (the later cutoff, to the ms)", u.TokensRevokedAt, cut)
	}
	never := *u
	never.TokensRevokedAt = time.Time{}
	for _, tt := range []struct {
		name    string
		user    *models.User
		iat     time.Time
		revoked bool
	}{
		{"never revoked, before the account", &never, created.Add(-time.Second), true},
		{"never revoked, the account's second", &never, created, false},
		{"never revoked, later", &never, cut, false},
		{"before the cutoff", u, cut.Add(-time.Second), true},
		{"the cutoff's second", u, cut.Truncate(time.Second), true},
		{"the second after", u, cut.Truncate(time.Second).Add(time.Second), false},
	} {
		if got := tt.user.TokenRevoked(tt.iat); got != tt.revoked {
			t.Errorf("%s: TokenRevoked(%v) = %v, want %v", tt.name, tt.iat, got, tt.revoked)
		}
	}
	for _, tt := range []struct{ now, want time.Time }{
		{cut, cut.Truncate(time.Second).Add(time.Second)},
		{cut.Add(-time.Minute), cut.Truncate(time.Second).Add(time.Second)},
		{cut.Add(time.Second), cut.Add(time.Second)},
	} {
		if got := u.TokenIssueAfter(tt.now); !got.Equal(tt.want) || u.TokenRevoked(got.Truncate(time.Second)) {
			t.Errorf("TokenIssueAfter(%v) = %v, want %v, accepted", tt.now, got, tt.want)
		}
	}
	if err := s.RevokeTokens(ctx, bson.NewObjectID(), cut); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("RevokeTokens of a missing user: %v, want ErrNotFound", err)
	}
}
