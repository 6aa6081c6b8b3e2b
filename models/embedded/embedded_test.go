package embedded_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"example.com/twitterlogin/models/embedded"
)

func TestStart_RestartKeepsAddrAndData(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new", "data")
	srv := mustStart(t, embedded.Options{Dir: dir})

	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data folder: %v, %v; want mode 0700", fi, err)
	}
	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") || strings.HasSuffix(srv.Addr(), ":0") {
		t.Errorf("Addr = %q, want 127.0.0.1 and a real port", srv.Addr())
	}
	if want := fmt.Sprintf("mongodb://%s/?maxPoolSize=%d", srv.Addr(), embedded.MaxConnections()); srv.URI() != want {
		t.Errorf("URI = %q, want %q", srv.URI(), want)
	}
	withClient(t, srv, func(c *mongo.Collection) {
		if _, err := c.InsertOne(testContext(t), bson.D{{Key: "_id", Value: "kept"}}); err != nil {
			t.Fatalf("InsertOne: %v", err)
		}
	})
	for i := range 2 { // idempotent
		if err := srv.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}

	again := mustStart(t, embedded.Options{Dir: dir, Addr: srv.Addr()})
	if again.Addr() != srv.Addr() {
		t.Errorf("restarted on %q, want %q", again.Addr(), srv.Addr())
	}
	withClient(t, again, func(c *mongo.Collection) {
		n, err := c.CountDocuments(testContext(t), bson.D{{Key: "_id", Value: "kept"}})
		if err != nil || n != 1 {
			t.Errorf("CountDocuments after restart = %d, %v; want 1", n, err)
		}
	})
}

func TestStart_Fails(t *testing.T) {
	t.Parallel()
	busy := mustStart(t, embedded.Options{Dir: t.TempDir()})
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts embedded.Options
	}{
		{"no folder", embedded.Options{}},
		{"folder is a file", embedded.Options{Dir: file}},
		{"address in use", embedded.Options{Dir: t.TempDir(), Addr: busy.Addr()}},
		{"bad address", embedded.Options{Dir: t.TempDir(), Addr: "not an address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := embedded.Start(testContext(t), tc.opts)
			if err == nil {
				_ = srv.Close()
				t.Fatal("Start: err = nil, want an error")
			}
		})
	}
	// A failed ferretdb.New can leak a backend whose finalizer panics;
	// collect garbage so such a leak crashes this test, not a later one.
	runtime.GC()
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
}

func TestStart_Concurrent(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			srv, err := embedded.Start(testContext(t), embedded.Options{Dir: t.TempDir()})
			if err != nil {
				t.Errorf("Start: %v", err)
				return
			}
			withClient(t, srv, func(c *mongo.Collection) {
				if _, err := c.InsertOne(testContext(t), bson.D{{Key: "x", Value: 1}}); err != nil {
					t.Errorf("InsertOne: %v", err)
				}
			})
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
}

// TestURI_BoundsConnections: a client made from the URI opens at most
// MaxConnections connections, however many calls it has in flight, and
// every call still gets through.
func TestURI_BoundsConnections(t *testing.T) {
	t.Parallel()
	srv := mustStart(t, embedded.Options{Dir: t.TempDir()})
	var opened, open, most atomic.Int64
	pool := &event.PoolMonitor{Event: func(e *event.PoolEvent) {
		switch e.Type {
		case event.ConnectionCreated:
			opened.Add(1)
			n := open.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
		case event.ConnectionClosed:
			open.Add(-1)
		}
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetPoolMonitor(pool))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	coll := client.Database("bound").Collection("items")
	calls := 8 * embedded.MaxConnections()
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			if _, err := coll.InsertOne(testContext(t), bson.D{{Key: "_id", Value: i}}); err != nil {
				t.Errorf("InsertOne %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := mustCountAll(t, coll); got != int64(calls) {
		t.Errorf("%d documents stored, want %d", got, calls)
	}
	if got, limit := most.Load(), int64(embedded.MaxConnections()); got > limit || got < 1 {
		t.Errorf("%d connections open at once (%d opened), want 1 to %d", got, opened.Load(), limit)
	}
}

func mustCountAll(t *testing.T, coll *mongo.Collection) int64 {
	t.Helper()
	n, err := coll.CountDocuments(testContext(t), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
