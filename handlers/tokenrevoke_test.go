package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestServiceTokensEndWithLogoutEverywhere: a service token issued before
// "log out everywhere" is refused at /db from then on, one issued after
// it (even within the same second) works, and the tokens of an account
// that was deleted stay refused when the same Twitter user signs up again.
func TestServiceTokensEndWithLogoutEverywhere(t *testing.T) {
	h := newTokenHarness(t, map[string]string{
		"TOKEN_AUDIENCE": "twitterlogin-api",
		"TOKEN_ROLES":    `{"user":{"twitterlogin-api":["/db"]}}`,
	})
	db := h.app.URL + "/db"
	b := h.browser()
	b.login("oauth2", "1001")
	before := b.serviceToken("twitterlogin-api", "/db")
	wantStatus(t, bearerDo(t, "GET", db, before, "", ""), http.StatusOK)

	wantStatus(t, b.postForm("/sessions/end-all", url.Values{"csrf_token": {b.csrf()}}), http.StatusSeeOther)
	wantRevoked(t, bearerDo(t, "GET", db, before, "", ""))

	// The clock has not moved: the new token is issued in the cutoff's
	// second, and must still be told apart from the old one.
	b.login("oauth2", "1001")
	after := b.serviceToken("twitterlogin-api", "/db")
	wantStatus(t, bearerDo(t, "GET", db, after, "", ""), http.StatusOK)
	wantRevoked(t, bearerDo(t, "GET", db, before, "", ""))

	if err := h.store.DeleteUser(context.Background(), b.userID()); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Second)
	b.login("oauth2", "1001") // the same Twitter user signs up again
	wantRevoked(t, bearerDo(t, "GET", db, after, "", ""))
	wantStatus(t, bearerDo(t, "GET", db, b.serviceToken("twitterlogin-api", "/db"), "", ""), http.StatusOK)
}

// wantRevoked checks that r refused its bearer token as revoked.
func wantRevoked(t *testing.T, r *response) {
	t.Helper()
	body := wantJSONError(t, r, http.StatusUnauthorized)
	if www := r.Header.Get("WWW-Authenticate"); !strings.Contains(www, `error="invalid_token"`) || !strings.Contains(body, "revoked") {
		t.Errorf("WWW-Authenticate %q, body %q: want invalid_token, revoked", www, body)
	}
}
