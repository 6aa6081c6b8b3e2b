package models

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"example.com/twitterlogin/models/embedded"
)

// openGated opens a store on a fresh embedded server with writes gated
// one at a time, as the app runs the embedded store, and counts the
// commands it sends.
func openGated(t *testing.T) (*Store, *CommandCounter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var counter CommandCounter
	s, err := Open(ctx, Options{URI: srv.URI(), Database: "combine", Timeout: 10 * time.Second,
		MaxConcurrentWrites: embedded.MaxConcurrentWrites, Monitor: counter.Monitor()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s, &counter
}

// holdGate takes the store's only write place until the returned release.
func holdGate(t *testing.T, s *Store) (release func()) {
	t.Helper()
	release, err := s.writes.enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return release
}

// waitQueued waits until n inserts wait in coll's batch.
func waitQueued(t *testing.T, s *Store, coll string, n int) {
	t.Helper()
	b := s.batches.get(coll)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		got := len(b.waiting)
		b.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d inserts queued, want %d", got, n)
		}
	}
}

// TestInsertsCombined: inserts that wait for the gate together go out as
// one command, and each gets its own outcome: a taken _id fails that
// insert alone, with the duplicate-key error a lone insert gets.
func TestInsertsCombined(t *testing.T) {
	s, counter := openGated(t)
	coll := s.collection("combined")
	ctx := context.Background()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "taken"}}); err != nil {
		t.Fatal(err)
	}
	before := counter.Counts()["insert"]

	release := holdGate(t, s)
	ids := []string{"a", "b", "taken", "c", "b"}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { _, errs[i] = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}}) })
		waitQueued(t, s, "combined", i+1) // in this order
	}
	release()
	wg.Wait()

	if n := counter.Counts()["insert"] - before; n != 1 {
		t.Errorf("%d insert commands for %d inserts, want 1", n, len(ids))
	}
	for i, id := range ids {
		dup := id == "taken" || i == 4 // the second "b"
		if got := mongo.IsDuplicateKeyError(errs[i]); got != dup || (!dup && errs[i] != nil) {
			t.Errorf("insert %d (%s): %v, want duplicate %v", i, id, errs[i], dup)
		}
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 4 {
		t.Errorf("%d documents, %v; want taken, a, b, c", n, err)
	}
}

// TestInsertCombined_CancelledWhileWaiting: an insert whose caller gives
// up before the gate lets it through is not sent.
func TestInsertCombined_CancelledWhileWaiting(t *testing.T) {
	s, _ := openGated(t)
	coll := s.collection("combined")
	release := holdGate(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "gave-up"}}); errc <- err }()
	waitQueued(t, s, "combined", 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("InsertOne = %v, want context.Canceled", err)
	}
	release()
	if _, err := coll.InsertOne(context.Background(), bson.D{{Key: "_id", Value: "next"}}); err != nil {
		t.Fatal(err)
	}
	n, err := coll.CountDocuments(context.Background(), bson.D{{Key: "_id", Value: "gave-up"}})
	if err != nil || n != 0 {
		t.Errorf("the cancelled insert was sent: %d, %v", n, err)
	}
}

// TestInsertCombined_ManyAtOnce: more inserts than one command carries
// all go in, each exactly once.
func TestInsertCombined_ManyAtOnce(t *testing.T) {
	s, _ := openGated(t)
	coll := s.collection("combined")
	ctx := context.Background()
	const n = 3*maxCombined + 5
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprint(i)}}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got, err := coll.CountDocuments(ctx, bson.D{}); err != nil || got != n {
		t.Errorf("%d documents, %v; want %d", got, err, n)
	}
}
