package models

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// When writes go through a gate (the embedded store, [writeGate]), inserts
// into one collection that wait for it at the same time are sent as one
// insert command: the embedded FerretDB commits a command's documents in
// one SQLite transaction, and so one wait for the disk, which made 32
// inserts cost 33 µs each instead of 526 µs. Each document keeps its own
// outcome: a duplicate _id fails that insert alone, with the same error a
// lone insert gets.

// combineTimeout bounds a combined insert, which runs on behalf of every
// caller in it and so under none of their contexts.
const combineTimeout = 30 * time.Second

// maxCombined bounds how many inserts one command carries.
const maxCombined = 64

// insertBatch holds the inserts into one collection that wait for the
// write gate.
type insertBatch struct {
	mu      sync.Mutex
	waiting []*pendingInsert
}

// pendingInsert is one caller's insert and, once sent, its outcome.
type pendingInsert struct {
	doc  any
	done chan error // receives the outcome once
}

// insertBatches gives each collection its batch.
type insertBatches struct {
	mu      sync.Mutex
	batches map[string]*insertBatch
}

func (b *insertBatches) get(name string) *insertBatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batches == nil {
		b.batches = map[string]*insertBatch{}
	}
	if b.batches[name] == nil {
		b.batches[name] = &insertBatch{}
	}
	return b.batches[name]
}

// insert queues doc, waits for the gate and sends every waiting insert
// of the collection, or returns the outcome another caller got for doc.
func (c collection) insertCombined(ctx context.Context, doc any) error {
	p := &pendingInsert{doc: doc, done: make(chan error, 1)}
	b := c.batch
	b.mu.Lock()
	b.waiting = append(b.waiting, p)
	b.mu.Unlock()

	release, err := c.gate.enter(ctx)
	if err != nil {
		if b.withdraw(p) {
			return err
		}
		return <-p.done // already being sent
	}
	defer release()
	b.mu.Lock()
	i := slices.Index(b.waiting, p)
	if i < 0 {
		b.mu.Unlock()
		return <-p.done // sent, or being sent, with another caller's
	}
	n := min(len(b.waiting), maxCombined)
	if i >= n {
		b.waiting[n-1], b.waiting[i] = b.waiting[i], b.waiting[n-1]
	}
	batch := slices.Clone(b.waiting[:n])
	b.waiting = slices.Delete(b.waiting, 0, n)
	b.mu.Unlock()
	c.send(batch)
	return <-p.done
}

// withdraw takes p out of the waiting inserts, reporting false if a
// sender took it already.
func (b *insertBatch) withdraw(p *pendingInsert) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.Index(b.waiting, p)
	if i < 0 {
		return false
	}
	b.waiting = slices.Delete(b.waiting, i, i+1)
	return true
}

// send inserts the batch's documents in one unordered command and gives
// each its outcome.
func (c collection) send(batch []*pendingInsert) {
	docs := make([]any, len(batch))
	for i, p := range batch {
		docs[i] = p.doc
	}
	ctx, cancel := context.WithTimeout(context.Background(), combineTimeout)
	defer cancel()
	_, err := c.Collection.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	if err == nil || !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		for _, p := range batch {
			p.done <- err
		}
		return
	}
	failed := map[int]error{}
	for _, we := range bwe.WriteErrors {
		failed[we.Index] = mongo.WriteException{WriteErrors: []mongo.WriteError{we.WriteError}, Labels: bwe.Labels}
	}
	for i, p := range batch {
		p.done <- failed[i] // nil for the documents that went in
	}
}
