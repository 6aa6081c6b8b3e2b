package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
)

// TestRefreshLostToLogout_RevokesWhatItGot: a refresh whose result cannot
// be stored because a logout cleared the token meanwhile has the tokens
// Twitter just issued revoked, instead of leaving them live.
func TestRefreshLostToLogout_RevokesWhatItGot(t *testing.T) {
	var rec *revokeRecorder
	h := newHarness(t, harnessOptions{
		env: map[string]string{"TWITTER_OFFLINE_ACCESS": "true"},
		provider: func(next http.Handler) http.Handler {
			rec = newRevokeRecorder(next)
			return rec
		},
	})
	closeOnCleanup(t, h)
	h.srv.revoker.backoff = 10 * time.Millisecond
	b := h.browser()
	b.login(config.OAuth2, "1001")
	u := h.user(b.userID())

	// The logout's own revocation fails for now (and is retried only
	// when the frozen clock moves), so only the lost refresh's result can
	// be revoked below; the refresh is slow, so the logout overtakes it.
	h.provider.SetFault("/2/oauth2/revoke", devtwitter.Fault{Status: http.StatusServiceUnavailable})
	h.provider.SetFault("/2/oauth2/token", devtwitter.Fault{Delay: time.Second})
	h.clock.Advance(2*time.Hour + time.Minute)
	faults := h.provider.Stats().Faults
	cookie := b.cookie(sessionCookie)
	type answer struct {
		status int
		err    error
	}
	me := make(chan answer, 1)
	go func() {
		status, _, err := getTwitterMe(b.client, h.app.URL, cookie)
		me <- answer{status, err}
	}()
	eventually(t, 5*time.Second, "the refresh never reached Twitter", func() bool { return h.provider.Stats().Faults > faults })
	b.logout()
	eventually(t, 5*time.Second, "the logout's revocation did not fail", func() bool { return len(h.revokeEvents(u)) > 0 })
	h.provider.ClearFaults()

	if a := <-me; a.err != nil || a.status != http.StatusUnauthorized {
		t.Fatalf("GET /twitter/me = %d, %v; want 401, the login ended", a.status, a.err)
	}
	fresh := rec.lastIssued()
	if fresh.AccessToken == "" || fresh.AccessToken == u.Token.AccessToken {
		t.Fatalf("no refreshed token seen at the token endpoint: %+v", fresh)
	}
	eventually(t, 10*time.Second, "the refreshed access token is still active at Twitter", func() bool {
		return !h.provider.TokenActive(fresh.AccessToken)
	})
	if _, revoked := rec.counts(); revoked[fresh.RefreshToken] != 1 || revoked[fresh.AccessToken] != 1 {
		t.Errorf("refreshed tokens revoked %d and %d times, want once each",
			revoked[fresh.RefreshToken], revoked[fresh.AccessToken])
	}
	if logs := h.logs.String(); strings.Contains(logs, fresh.AccessToken) || strings.Contains(logs, fresh.RefreshToken) {
		t.Error("the log names a refreshed token")
	}
}
