package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

// newRawHarness is a harness whose database the test can also reach
// directly, to damage what the app keeps.
func newRawHarness(t *testing.T) (*harness, *mongo.Database) {
	t.Helper()
	srv := storetest.NewServer(t)
	name := storetest.DatabaseName()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	store, err := models.Open(ctx, models.Options{URI: srv.URI(), Database: name, Timeout: storetest.StoreTimeout})
	if err != nil {
		t.Fatal(err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.Disconnect(context.Background())
		_ = store.Close(context.Background())
	})
	return newHarness(t, harnessOptions{store: store}), client.Database(name)
}

// pages is what a signed-in user sees on every page that lists their data.
func (b *browser) pages(base string) map[string]string {
	b.t.Helper()
	out := map[string]string{}
	for _, p := range []string{"/", "/db", "/activity", "/sessions"} {
		r := b.get(base + p)
		if r.StatusCode != http.StatusOK {
			b.t.Fatalf("GET %s: %s", p, r)
		}
		out[p] = r.body
	}
	return out
}

// TestPagesSurviveDigestDamage: the home page, /db, the activity page and
// the sessions page show exactly the same after the per-user digests they
// read are lost, left behind by a write that died half way, or emptied,
// and on a freshly started second instance.
func TestPagesSurviveDigestDamage(t *testing.T) {
	h, db := newRawHarness(t)
	ada := h.browser()
	ada.login("oauth2", "1001")
	other := h.browser()
	other.login("oauth1", "1001") // a second session, and a second sign-in event
	uid := ada.userID()
	recent := db.Collection("recent")
	post := func(text string) {
		t.Helper()
		wantStatus(t, ada.post("/db", "application/json", fmt.Sprintf(`{"text":%q}`, text)), http.StatusCreated)
	}
	post("first")
	early := map[string]bson.M{}
	for _, kind := range []string{"records", "events"} {
		var doc bson.M
		if err := recent.FindOne(t.Context(), bson.D{{Key: "_id", Value: kind + ":" + uid.Hex()}}).Decode(&doc); err != nil {
			t.Fatalf("digest %s: %v", kind, err)
		}
		early[kind] = doc
	}
	post("second")
	post("third")
	third := h.browser()
	third.login("oauth2", "1001") // one more session and event after the snapshot
	want := ada.pages("")

	damages := []struct {
		name  string
		apply func(kind string) error
	}{
		{"missing", func(kind string) error {
			_, err := recent.DeleteOne(t.Context(), bson.D{{Key: "_id", Value: kind + ":" + uid.Hex()}})
			return err
		}},
		{"behind", func(kind string) error {
			_, err := recent.ReplaceOne(t.Context(), bson.D{{Key: "_id", Value: kind + ":" + uid.Hex()}}, early[kind])
			return err
		}},
		{"empty", func(kind string) error {
			_, err := recent.ReplaceOne(t.Context(), bson.D{{Key: "_id", Value: kind + ":" + uid.Hex()}}, bson.M{"seq": 0})
			return err
		}},
	}
	restarted := httptest.NewServer(h.restart().Handler())
	t.Cleanup(restarted.Close)
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			for _, kind := range []string{"records", "events"} {
				if err := d.apply(kind); err != nil {
					t.Fatal(err)
				}
			}
			for _, base := range []string{"", restarted.URL} {
				got := ada.pages(base)
				for _, p := range slices.Sorted(maps.Keys(want)) {
					if got[p] != want[p] {
						t.Errorf("%s%s after the digests went %s:\n%s\nwant\n%s", base, p, d.name, got[p], want[p])
					}
				}
			}
		})
	}
}

// restart starts another Server on the harness's store and config, as
// the same app would come back after a restart: nothing in memory.
func (h *harness) restart() *Server {
	h.t.Helper()
	srv, err := New(Options{Config: h.cfg, Store: h.store, Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	return srv
}

// TestRecordsFromTwoInstances: one user writing through two instances at
// once loses no record, and both list them all, newest first.
func TestRecordsFromTwoInstances(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ada := h.browser()
	ada.login("oauth2", "1001")
	second := h.secondInstance()
	const each = 10
	var wg sync.WaitGroup
	for i, base := range []string{"", second.URL} {
		wg.Go(func() {
			for n := range each {
				r := ada.post(base+"/db", "application/json", fmt.Sprintf(`{"text":"%d-%d"}`, i, n))
				if r.StatusCode != http.StatusCreated {
					t.Errorf("POST %s/db: %s", base, r)
				}
			}
		})
	}
	wg.Wait()
	for _, base := range []string{"", second.URL} {
		var list struct {
			Records []struct {
				Text      string
				CreatedAt time.Time `json:"created_at"`
			}
		}
		if err := json.Unmarshal([]byte(ada.get(base+"/db").body), &list); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, r := range list.Records {
			seen[r.Text] = true
			if i > 0 && r.CreatedAt.After(list.Records[i-1].CreatedAt) {
				t.Errorf("%s/db: record %d is newer than the one before it", base, i)
			}
		}
		if len(seen) != 2*each || len(list.Records) != 2*each {
			t.Errorf("%s/db lists %d records (%d distinct), want %d", base, len(list.Records), len(seen), 2*each)
		}
	}
}
