package handlers

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

// deleteEnv turns service tokens for /db on, as TestDBWithBearerToken.
var deleteEnv = map[string]string{
	"TOKEN_AUDIENCE": "twitterlogin-api",
	"TOKEN_ROLES":    `{"user":{"twitterlogin-api":["/db"]}}`,
}

// newDeleteHarness is a token harness whose database the test can also
// read over a raw driver connection, to look for anything left behind.
func newDeleteHarness(t *testing.T) (*harness, *mongo.Database) {
	t.Helper()
	srv := storetest.NewServer(t)
	dbName := storetest.DatabaseName()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := models.Open(ctx, models.Options{URI: srv.URI(), Database: dbName, Timeout: storetest.StoreTimeout, DefaultRoles: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(context.Background()) })
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	h := newHarness(t, harnessOptions{store: store, tokenKeys: testTokenKeys(t), env: deleteEnv})
	closeOnCleanup(t, h)
	return h, client.Database(dbName)
}

var yourDataCSRF = regexp.MustCompile(`action="/me/delete"[^<]*<input type="hidden" name="csrf_token" value="([^"]+)"`)

// deleteAccount confirms the deletion with handle on the "Your data"
// page, with that page's CSRF token.
func (b *browser) deleteAccount(handle string) *response {
	b.t.Helper()
	page := b.get("/your-data")
	m := yourDataCSRF.FindStringSubmatch(page.body)
	if m == nil {
		b.t.Fatalf("no delete form on /your-data: %s", page)
	}
	return b.postForm("/me/delete", url.Values{"csrf_token": {m[1]}, "handle": {handle}})
}

// namingUser lists every collection of db and returns, per collection,
// how many documents name user uid anywhere: the id itself, its hex in a
// string, a numbered item's _id derived from it, or the id's bytes inside
// a binary value.
func namingUser(t *testing.T, db *mongo.Database, uid bson.ObjectID) map[string]int {
	t.Helper()
	ctx := context.Background()
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			t.Fatalf("scan %s: %v", name, err)
		}
		for cur.Next(ctx) {
			if rawNames(cur.Current, uid) {
				found[name]++
			}
		}
		if err := cur.Err(); err != nil {
			t.Fatalf("scan %s: %v", name, err)
		}
		cur.Close(ctx)
	}
	return found
}

// rawNames reports whether any value in doc names uid (see namingUser).
func rawNames(doc bson.Raw, uid bson.ObjectID) bool {
	elems, err := doc.Elements()
	if err != nil {
		return true // unreadable: count it, to be looked at
	}
	for _, e := range elems {
		if valueNames(e.Value(), uid) {
			return true
		}
	}
	return false
}

func valueNames(v bson.RawValue, uid bson.ObjectID) bool {
	if oid, ok := v.ObjectIDOK(); ok {
		return oid == uid || bytes.Equal(oid[:8], uid[4:])
	}
	if s, ok := v.StringValueOK(); ok {
		return strings.Contains(s, uid.Hex())
	}
	if d, ok := v.DocumentOK(); ok {
		return rawNames(d, uid)
	}
	if a, ok := v.ArrayOK(); ok {
		vals, err := a.Values()
		if err != nil {
			return true
		}
		for _, x := range vals {
			if valueNames(x, uid) {
				return true
			}
		}
		return false
	}
	if _, data, ok := v.BinaryOK(); ok {
		return bytes.Contains(data, uid[:]) || bytes.Contains(data, []byte(uid.Hex()))
	}
	return false
}

// wantDeletedPage checks the signed-out page after a deletion: it says
// what went and clears the session cookie.
func wantDeletedPage(t *testing.T, r *response, texts ...string) {
	t.Helper()
	wantPage(t, r, http.StatusOK, append([]string{"Account deleted"}, texts...)...)
	if !clearsCookie(r.Header.Values("Set-Cookie"), sessionCookie) {
		t.Errorf("the deletion did not clear the session cookie: %q", r.Header.Values("Set-Cookie"))
	}
}
