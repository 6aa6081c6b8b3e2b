package models_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

// TestMaxConcurrentWrites: with a bound of one, concurrent writers never
// have two writes at the store at once, and all of them get through.
func TestMaxConcurrentWrites(t *testing.T) {
	t.Parallel()
	srv := storetest.NewServer(t)
	var inFlight, most atomic.Int64
	done := func(name string) {
		if models.CommandKind(name) == "write" {
			inFlight.Add(-1)
		}
	}
	monitor := &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if models.CommandKind(e.CommandName) == "write" {
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
			}
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { done(e.CommandName) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { done(e.CommandName) },
	}
	s, err := models.Open(testContext(t), models.Options{URI: srv.URI(), Database: storetest.DatabaseName(),
		Monitor: monitor, MaxConcurrentWrites: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	most.Store(0)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 4 {
				if _, err := s.InsertRecord(testContext(t), bson.NewObjectID(), "x", t0); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := most.Load(); got != 1 {
		t.Errorf("at most %d writes were in flight at once, want 1", got)
	}

	// A writer whose context ends while it waits gives up, and says why.
	ctx, cancel := context.WithTimeout(testContext(t), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := s.InsertRecord(ctx, bson.NewObjectID(), "late", t0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("InsertRecord with an ended context = %v, want DeadlineExceeded", err)
	}
}
