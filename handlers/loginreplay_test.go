package handlers

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"example.com/twitterlogin/models"
)

// TestReplayedCallbackKeepsGrant: replaying a callback with a kept copy of
// its login-state cookie, in the same browser or another, is refused
// before the app calls Twitter, so the code or verifier is not redeemed a
// second time and Twitter does not revoke the user's grant.
func TestReplayedCallbackKeepsGrant(t *testing.T) {
	for _, flow := range flows {
		t.Run(string(flow), func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			b := h.browser()
			cb := b.consent(b.startLogin(flow), "approve", "1001")
			kept := b.cookie(loginStateCookie)
			if kept == "" {
				t.Fatal("no login-state cookie to keep")
			}
			wantStatus(t, b.get(cb.String()), http.StatusFound)
			token := h.user(b.userID()).Token.AccessToken
			before := h.provider.Stats()

			for _, replayer := range []struct {
				name string
				b    *browser
			}{{"same browser", b}, {"another browser", h.browser()}} {
				replayer.b.setCookie(loginStateCookie, kept)
				r := replayer.b.get(cb.String())
				wantPage(t, r, http.StatusBadRequest, "already used")
			}
			if after := h.provider.Stats(); after != before {
				t.Errorf("the replays reached Twitter: stats %+v, then %+v", before, after)
			}
			if !h.provider.TokenActive(token) {
				t.Error("the user's Twitter credential was revoked by the replays")
			}
			wantStatus(t, b.get("/me"), http.StatusOK)
		})
	}
}

// TestWatchStoreSweepsSpentLogins: WatchStore deletes the records of
// login states once they are past their expiry and the grace, so the
// collection does not grow forever on a store without TTL indexes. A
// record is gone when its nonce can be spent again.
func TestWatchStoreSweepsSpentLogins(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	expires := h.clock.Now()
	if err := h.store.SpendLoginState(ctx, "probe", expires); err != nil {
		t.Fatal(err)
	}
	if err := h.store.SpendLoginState(ctx, "probe", expires); !errors.Is(err, models.ErrAlreadySpent) {
		t.Fatalf("second spend before the sweep: %v, want ErrAlreadySpent", err)
	}
	h.clock.Advance(models.SpentLoginGrace + 2*time.Second)
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { h.srv.WatchStore(wctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	eventually(t, 10*time.Second, "the expired record was never swept", func() bool {
		return h.store.SpendLoginState(ctx, "probe", expires) == nil
	})
}
