package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// onInstance rewrites an app URL to reach another instance behind the
// same public URL, as a load balancer may route any request anywhere.
func onInstance(u *url.URL, base string) string {
	b, _ := url.Parse(base)
	v := *u
	v.Scheme, v.Host = b.Scheme, b.Host
	return v.String()
}

// TestLoginAcrossInstances: a login started on one instance completes on
// another (the in-flight state is in the browser's sealed cookie, not in
// either process), the session works on both, and a logout on one is
// refused on the other.
func TestLoginAcrossInstances(t *testing.T) {
	for _, flow := range flows {
		t.Run(string(flow), func(t *testing.T) {
			// No session cache, so "refused on the other" is immediate on
			// this store without change streams (see TestLogoutAcrossInstances
			// for the cached bound).
			h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_CACHE_TTL": "0s"}})
			other := h.secondInstance()
			b := h.browser()

			cb := b.consent(b.startLogin(flow), "approve", "1001")
			r := b.get(onInstance(cb, other.URL))
			wantStatus(t, r, http.StatusFound)
			if b.cookie(sessionCookie) == "" {
				t.Fatal("callback on the second instance set no session")
			}
			cookie := b.cookie(sessionCookie)
			wantStatus(t, b.get("/me"), http.StatusOK)
			if got := getWithCookie(t, other.URL, "/me", cookie); got != http.StatusOK {
				t.Fatalf("second instance: /me %d", got)
			}

			// Log out on the second instance (the jar sends the cookie to
			// any port of 127.0.0.1), then the first refuses the cookie.
			r = b.postForm(other.URL+"/logout", url.Values{"csrf_token": {b.csrf()}})
			wantStatus(t, r, http.StatusSeeOther)
			if got := getWithCookie(t, h.app.URL, "/me", cookie); got != http.StatusUnauthorized {
				t.Errorf("first instance after logout on the second: %d, want 401", got)
			}
		})
	}
}

// TestConcurrentFirstLogins: fifty browsers signing in as the same new
// Twitter account at once end up as one user.
func TestConcurrentFirstLogins(t *testing.T) {
	// The embedded store serialises writes, and -race slows it down a lot:
	// give fifty simultaneous logins the production store timeout and more.
	h := newHarness(t, harnessOptions{storeTimeout: 15 * time.Second})
	const n = 50
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		b := h.browser()
		wg.Go(func() {
			flow := flows[i%len(flows)]
			cb := b.consent(b.startLogin(flow), "approve", "1003")
			r := b.get(cb.String())
			if r.StatusCode != http.StatusFound {
				t.Errorf("login %d: %s", i, r)
				return
			}
			ids[i], _ = claims(t, b.cookie(sessionCookie))["sub"].(string)
		})
	}
	wg.Wait()
	u, err := h.store.UserByTwitterID(t.Context(), "1003")
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if id != u.ID.Hex() {
			t.Errorf("login %d signed in as %q, want the one user %s", i, id, u.ID.Hex())
		}
	}
	if !strings.HasPrefix(u.ID.Hex(), "74777472") {
		t.Errorf("user id %s is not derived from the Twitter id", u.ID.Hex())
	}
}
