package models_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// TestSpendLoginState: a login state is spent once, even by callbacks
// racing each other, and expired records are deleted while live ones stay.
func TestSpendLoginState(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	now := t0
	expires := now.Add(10 * time.Minute)

	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() { errs[i] = s.SpendLoginState(ctx, "nonce-a", expires) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, models.ErrAlreadySpent):
			t.Errorf("SpendLoginState: %v, want nil or ErrAlreadySpent", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing spends won, want 1", won, racers)
	}
	if err := s.SpendLoginState(ctx, "nonce-b", expires.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		at   time.Time
		left int64
	}{
		{"both live", now, 2},
		{"just expired, within the grace", expires.Add(models.SpentLoginGrace - time.Second), 2},
		{"first past the grace", expires.Add(models.SpentLoginGrace + time.Second), 1},
		{"both past", expires.Add(time.Hour), 0},
	} {
		if _, err := s.DeleteSpentLogins(ctx, tt.at); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := mustCount(t, db, "spent_logins", bson.D{}); got != tt.left {
			t.Errorf("%s: %d records left, want %d", tt.name, got, tt.left)
		}
	}
}
