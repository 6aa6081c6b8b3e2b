package models_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
	"example.com/twitterlogin/models/storetest"
)

// testTimeout bounds each store call in the tests.
const testTimeout = 20 * time.Second

// newStore starts an embedded FerretDB for the test (it starts in a few
// milliseconds, so every test gets its own) and returns a store on a fresh
// database, plus a raw handle on the same database for checking what was
// actually written.
func newStore(t *testing.T) (*models.Store, *mongo.Database) {
	t.Helper()
	srv := storetest.NewServer(t)
	return openStore(t, srv)
}

// openStore opens a store and a raw driver handle on a fresh database of srv.
func openStore(t *testing.T, srv *embedded.Server) (*models.Store, *mongo.Database) {
	t.Helper()
	name := storetest.DatabaseName()
	ctx := testContext(t)
	s, err := models.Open(ctx, models.Options{URI: srv.URI(), Database: name, Timeout: storetest.StoreTimeout, CacheTTL: storetest.CacheTTL})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetServerSelectionTimeout(storetest.StoreTimeout))
	if err != nil {
		t.Fatalf("connect raw client: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := client.Disconnect(ctx); err != nil {
			t.Errorf("disconnect raw client: %v", err)
		}
	})
	return s, client.Database(name)
}

// testContext returns a context that ends with the test or after testTimeout.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// mustUpsert signs in a Twitter user.
func mustUpsert(t *testing.T, s *models.Store, twitterID string, now time.Time) *models.User {
	t.Helper()
	u, err := s.UpsertTwitterUser(testContext(t), models.TwitterProfile{ID: twitterID, Handle: "h" + twitterID, Name: "N " + twitterID},
		models.ProviderToken{Flow: "oauth2", AccessToken: "at-" + twitterID}, now)
	if err != nil {
		t.Fatalf("UpsertTwitterUser(%s): %v", twitterID, err)
	}
	return u
}

// mustCount counts the documents of coll matching filter.
func mustCount(t *testing.T, db *mongo.Database, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := db.Collection(coll).CountDocuments(testContext(t), filter)
	if err != nil {
		t.Fatalf("count %s: %v", coll, err)
	}
	return n
}

// mustRaw returns the raw stored document of coll with the given _id.
func mustRaw(t *testing.T, db *mongo.Database, coll string, id any) bson.M {
	t.Helper()
	var m bson.M
	if err := db.Collection(coll).FindOne(testContext(t), bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		t.Fatalf("find %s %v: %v", coll, id, err)
	}
	return m
}

// t0 is a fixed instant with sub-millisecond digits and a non-UTC zone, to
// exercise the store's normalisation.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

// commandLog records the filters of the reads and writes a store sends
// (find, count, distinct, update, delete, findAndModify; an aggregate is
// recorded without one).
type commandLog struct {
	mu      sync.Mutex
	filters []string
}

func (l *commandLog) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		var f bson.Raw
		switch e.CommandName {
		case "find":
			f, _ = e.Command.Lookup("filter").DocumentOK()
		case "count", "findAndModify", "distinct":
			f, _ = e.Command.Lookup("query").DocumentOK()
		case "aggregate":
			// A pipeline is never a single-key lookup on the embedded store.
			l.add("aggregate", nil)
			return
		case "update", "delete":
			stmts, _ := e.Command.Lookup(e.CommandName + "s").ArrayOK()
			vals, _ := stmts.Values()
			for _, v := range vals {
				doc, _ := v.DocumentOK()
				q, _ := doc.Lookup("q").DocumentOK()
				l.add(e.CommandName, q)
			}
			return
		default:
			return
		}
		l.add(e.CommandName, f)
	}}
}

func (l *commandLog) add(cmd string, filter bson.Raw) {
	keys := []string{}
	if elems, err := filter.Elements(); err == nil {
		for _, e := range elems {
			keys = append(keys, e.Key())
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.filters = append(l.filters, cmd+" "+strings.Join(keys, ","))
}

func (l *commandLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.filters
	l.filters = nil
	return out
}
