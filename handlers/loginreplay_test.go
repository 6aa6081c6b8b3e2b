package handlers

import (
	"net/http"
	"testing"
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
