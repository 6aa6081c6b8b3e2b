package handlers

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"example.com/twitterlogin/models"
)

// TestDeleteAccount deletes an account from instance A while the user is
// signed in on A and on B and holds a service token: every cookie and the
// token are refused afterwards, the credential is revoked at the dev
// provider, and no collection keeps a document naming the user (the
// change feed's entry only until the feed's own expiry). Another user is
// untouched, and signing in again makes a new, empty account that the
// old token cannot use.
func TestDeleteAccount(t *testing.T) {
	h, db := newDeleteHarness(t)
	bSrv, bApp := h.secondServer(h.store)
	wctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { bSrv.WatchStore(wctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	ada, adaOnB, grace := h.browser(), h.browser(), h.browser()
	ada.login("oauth2", "1001")
	onB := signedInOn(t, adaOnB, bApp.URL)
	grace.login("oauth1", "1002")
	wantStatus(t, ada.post("/db", "application/json", `{"text":"ada's note"}`), http.StatusCreated)
	wantStatus(t, grace.post("/db", "application/json", `{"text":"grace's note"}`), http.StatusCreated)
	tok := ada.serviceToken("twitterlogin-api", "/db")
	wantStatus(t, bearerDo(t, "GET", h.app.URL+"/db", tok, "", ""), http.StatusOK)
	uid, onA := ada.userID(), ada.cookie(sessionCookie)
	credential := h.user(uid).Token.AccessToken
	if !h.provider.TokenActive(credential) {
		t.Fatal("the stored credential is not active before the deletion")
	}

	r := ada.deleteAccount("@grace")
	wantPage(t, r, http.StatusBadRequest, "Nothing was deleted", "@ada")
	if n := namingUser(t, db, uid); n["users"] != 1 || n["records"] != 1 || n["sessions"] != 2 {
		t.Fatalf("a wrong handle deleted something: %v", n)
	}

	wantDeletedPage(t, ada.deleteAccount("@Ada"), "@ada", "1 records", "2 sessions", "activity events")
	for _, base := range []string{h.app.URL, bApp.URL} {
		eventually(t, 10*time.Second, base+" still accepts a cookie", func() bool {
			return getWithCookie(t, base, "/me", onA) == http.StatusUnauthorized &&
				getWithCookie(t, base, "/me", onB) == http.StatusUnauthorized
		})
	}
	wantJSONError(t, bearerDo(t, "GET", h.app.URL+"/db", tok, "", ""), http.StatusUnauthorized)
	eventually(t, 10*time.Second, "the credential is still active at Twitter", func() bool { return !h.provider.TokenActive(credential) })
	wantNothingLeft(t, h, db, uid)
	if r := grace.get("/db"); !strings.Contains(r.body, "grace's note") {
		t.Errorf("the other user's records after the deletion: %s", r)
	}
	wantFreshAccount(t, h, tok, uid)
}

// wantNothingLeft waits for the outbox to finish the revocation, then
// checks that only the change feed names the user, and after the feed's
// expiry nothing does.
func wantNothingLeft(t *testing.T, h *harness, db *mongo.Database, uid bson.ObjectID) {
	t.Helper()
	eventually(t, 10*time.Second, "the outbox keeps the revoked credential", func() bool {
		n := namingUser(t, db, uid)
		return n["revocation_outbox"] == 0 && n["revocation_leases"] == 0
	})
	if left := namingUser(t, db, uid); !slices.Equal(slices.Sorted(maps.Keys(left)), []string{"changes"}) {
		t.Errorf("documents naming the deleted user, by collection: %v (want only the change feed's)", left)
	}
	if _, err := h.store.DeleteOldChanges(context.Background(), time.Now().Add(models.ChangeRetention+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if left := namingUser(t, db, uid); len(left) != 0 {
		t.Errorf("after the change feed's expiry, documents naming the deleted user: %v", left)
	}
}

// wantFreshAccount signs in again as the deleted user: a new, empty
// account, which the old service token cannot use.
func wantFreshAccount(t *testing.T, h *harness, oldToken string, uid bson.ObjectID) {
	t.Helper()
	h.clock.Advance(2 * time.Second) // a real sign-up takes longer than this
	again := h.browser()
	again.login("oauth2", "1001")
	if again.userID() != uid {
		t.Fatalf("user id %s after signing up again, want the derived %s", again.userID().Hex(), uid.Hex())
	}
	if r := again.get("/db"); strings.Contains(r.body, "ada's note") {
		t.Errorf("the new account shows the deleted account's records: %s", r)
	}
	if evs, err := h.store.EventsByUser(context.Background(), uid, 100); err != nil || len(evs) != 1 {
		t.Errorf("the new account's events: %v, %v; want only its sign-in", evs, err)
	}
	wantJSONError(t, bearerDo(t, "GET", h.app.URL+"/db", oldToken, "", ""), http.StatusUnauthorized)
	fresh := again.serviceToken("twitterlogin-api", "/db")
	wantStatus(t, bearerDo(t, "GET", h.app.URL+"/db", fresh, "", ""), http.StatusOK)
}

// TestDeletionSweep: a process that died after writing the deletion
// marker left the data in place; a new instance's start-up sweep
// finishes the deletion.
func TestDeletionSweep(t *testing.T) {
	h, db := newDeleteHarness(t)
	ada := h.browser()
	ada.login("oauth2", "1001")
	wantStatus(t, ada.post("/db", "application/json", `{"text":"ada's note"}`), http.StatusCreated)
	uid, cookie := ada.userID(), ada.cookie(sessionCookie)
	credential := h.user(uid).Token.AccessToken
	// The crash: the marker is written, nothing else is.
	if _, err := db.Collection("deletions").InsertOne(context.Background(), bson.D{{Key: "_id", Value: uid}, {Key: "started_at", Value: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, ada.get("/me"), http.StatusOK)

	restarted, restartedApp := h.secondServer(h.store)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { restarted.WatchStore(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = restarted.Close(cctx)
	})
	eventually(t, 10*time.Second, "the sweep never deleted the user", func() bool {
		_, err := h.store.UserByID(context.Background(), uid)
		return errors.Is(err, models.ErrNotFound)
	})
	eventually(t, 10*time.Second, "the deletion marker stays", func() bool {
		ids, err := h.store.PendingDeletions(context.Background())
		return err == nil && len(ids) == 0
	})
	if got := getWithCookie(t, restartedApp.URL, "/me", cookie); got != http.StatusUnauthorized {
		t.Errorf("the deleted user's cookie after the sweep: %d, want 401", got)
	}
	eventually(t, 10*time.Second, "the credential is still active at Twitter", func() bool { return !h.provider.TokenActive(credential) })
	wantNothingLeft(t, h, db, uid)
}

// TestDeletedUserCannotResurrect: the deleted user's saved cookie, CSRF
// token and forms are refused and write nothing; a login (with a
// return-to) started before the deletion and finished after is a first
// sign-in: it makes a new, empty account and returns to its page.
func TestDeletedUserCannotResurrect(t *testing.T) {
	h, db := newDeleteHarness(t)
	ada, pending := h.browser(), h.browser()
	ada.login("oauth2", "1001")
	start := pending.get("/auth/oauth2/login?next=/your-data")
	authorize, err := url.Parse(start.Header.Get("Location"))
	if err != nil || start.StatusCode != http.StatusFound {
		t.Fatalf("login with a return-to: %s", start)
	}
	uid, cookie, token := ada.userID(), ada.cookie(sessionCookie), ada.csrf()
	wantStatus(t, ada.post("/db", "application/json", `{"text":"ada's note"}`), http.StatusCreated)
	wantDeletedPage(t, ada.deleteAccount("@ada"), "1 records")

	ada.setCookie(sessionCookie, cookie)
	for _, replay := range []struct {
		path string
		form url.Values
	}{
		{"/me/delete", url.Values{"csrf_token": {token}, "handle": {"ada"}}},
		{"/db", url.Values{"csrf_token": {token}, "text": {"back from the dead"}}},
		{"/sessions/end-all", url.Values{"csrf_token": {token}}},
		{"/logout", url.Values{"csrf_token": {token}}},
	} {
		if r := ada.postForm(replay.path, replay.form); r.StatusCode < 300 || r.StatusCode >= 500 {
			t.Errorf("replayed POST %s: %s, want a refusal", replay.path, r)
		}
	}
	if _, err := h.store.DeleteOldChanges(context.Background(), time.Now().Add(models.ChangeRetention+time.Minute)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the replays left documents naming the user", func() bool {
		return len(namingUser(t, db, uid)) == 0
	})

	cb := pending.consent(authorize, "approve", "1001")
	if r := pending.get(cb.String()); r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/your-data" {
		t.Fatalf("the login started before the deletion: %d to %q, want 302 to /your-data", r.StatusCode, r.Header.Get("Location"))
	}
	if r := pending.get("/db"); r.StatusCode != http.StatusOK || strings.Contains(r.body, "ada's note") || strings.Contains(r.body, "back from the dead") {
		t.Errorf("the account made by the pending login: %s, want empty", r)
	}
	if got := getWithCookie(t, h.app.URL, "/me", cookie); got != http.StatusUnauthorized {
		t.Errorf("the deleted account's cookie after signing up again: %d, want 401", got)
	}
}
