package handlers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// outboxStore is the revocation outbox: credentials waiting to be revoked
// at Twitter, worked off by every instance.
type outboxStore interface {
	MoveTokenToOutbox(ctx context.Context, id bson.ObjectID, meta models.Revocation, now time.Time) (string, error)
	QueueRevocation(ctx context.Context, r models.Revocation, now time.Time) (string, error)
	DueRevocations(ctx context.Context, now time.Time, limit int) ([]string, error)
	ClaimRevocation(ctx context.Context, id string, until, now time.Time) (*models.Revocation, error)
	RetryRevocation(ctx context.Context, r *models.Revocation, nextAt time.Time, lastErr string) error
	FinishRevocation(ctx context.Context, r *models.Revocation) error
}

// Revocation at Twitter after logout (security.md S38) runs in the
// background from the store's revocation outbox (models/outbox.go): a
// logout moves the credential into it, and every instance's workers claim
// due entries, revoke them and delete them. What is in the outbox outlives
// a crash or a deploy; an instance picks it up when it scans (at start-up
// and every scanEvery), and this instance's own logouts are handed to its
// workers at once.

// revokeQueueSize bounds the entries waiting for this instance's
// workers; what does not fit waits in the outbox for the next scan.
const revokeQueueSize = 256

// revokeSettings tune the revocation workers; tests shorten them.
type revokeSettings struct {
	workers        int           // revocations run at once
	attempts       int           // tries of one call to Twitter per round
	attemptTimeout time.Duration // bounds each try
	backoff        time.Duration // before a round's second try; doubles
	// lease is how long a round's claim holds: longer than a round takes,
	// so that only a dead (or stuck) instance's round is taken over.
	lease time.Duration
	// retryAfter is the wait before the second round; it doubles up to
	// retryCap. After rounds rounds the revocation is given up.
	retryAfter, retryCap time.Duration
	rounds               int
	scanEvery            time.Duration // how often the outbox is scanned
}

func defaultRevokeSettings() revokeSettings {
	return revokeSettings{
		workers:        2,
		attempts:       3,
		attemptTimeout: 5 * time.Second,
		backoff:        time.Second,
		lease:          time.Minute,
		retryAfter:     30 * time.Second,
		retryCap:       time.Hour,
		rounds:         12, // about six hours of retrying
		scanEvery:      5 * time.Second,
	}
}

// retryDelay is the wait before the round after round, with up to half
// again so that many entries do not retry in step.
func (set revokeSettings) retryDelay(round int) time.Duration {
	d := set.retryAfter
	for range round {
		if d >= set.retryCap {
			break
		}
		d *= 2
	}
	d = min(d, set.retryCap)
	return d + rand.N(d/2+1)
}

// revoker runs this instance's revocation workers and outbox scanner.
type revoker struct {
	revokeSettings
	queue chan string // outbox ids to work off now

	ctx      context.Context // ends when Close gives up waiting
	cancel   context.CancelFunc
	stopScan context.CancelFunc
	scanDone chan struct{}
	wg       sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	pending map[string]bool // ids queued or being worked off here
}

// startRevoker starts the revocation workers and the outbox scanner;
// Close stops them.
func (s *Server) startRevoker(set revokeSettings) {
	ctx, cancel := context.WithCancel(context.Background())
	scanCtx, stopScan := context.WithCancel(ctx)
	r := &revoker{
		revokeSettings: set,
		queue:          make(chan string, revokeQueueSize),
		ctx:            ctx,
		cancel:         cancel,
		stopScan:       stopScan,
		scanDone:       make(chan struct{}),
		pending:        map[string]bool{},
	}
	s.revoker = r
	r.wg.Add(set.workers)
	for range set.workers {
		go func() {
			defer r.wg.Done()
			for id := range r.queue {
				s.workOff(id)
				r.done(id)
			}
		}()
	}
	go func() {
		defer close(r.scanDone)
		s.scanOutbox(scanCtx)
	}()
}

// Close stops the outbox scanner, stops taking revocations and waits
// until those already handed to the workers are done or ctx ends; then
// the rest are abandoned (and logged) and Close returns ctx's error.
// Nothing is lost either way: what is not done stays in the outbox for
// the next instance. Call it after the HTTP server has shut down, before
// the store is closed. It first writes the last_seen touches still
// waiting for their batch. Closing twice is not an error.
func (s *Server) Close(ctx context.Context) error {
	s.sessions.FlushLastSeen(ctx)
	r := s.revoker
	r.stopScan()
	<-r.scanDone
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		r.cancel()
		<-done
		return fmt.Errorf("handlers: close: Twitter revocations in progress left to the outbox: %w", ctx.Err())
	}
}

// enqueue hands outbox entry id to the workers unless it is with them
// already; a full queue or a closed server leaves it to a later scan.
func (r *revoker) enqueue(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.pending[id] {
		return
	}
	select {
	case r.queue <- id:
		r.pending[id] = true
	default:
	}
}

func (r *revoker) done(id string) {
	r.mu.Lock()
	delete(r.pending, id)
	r.mu.Unlock()
}

// scanOutbox hands the due outbox entries to the workers now and every
// scanEvery until ctx ends: those of logouts on instances that died, and
// those due for another round.
func (s *Server) scanOutbox(ctx context.Context) {
	r := s.revoker
	t := time.NewTicker(r.scanEvery)
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, s.storeTimeout)
		ids, err := s.store.DueRevocations(sctx, s.now(), revokeQueueSize)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("scan the revocation outbox", "err", err.Error())
		}
		for _, id := range ids {
			r.enqueue(id)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// workOff claims one round of outbox entry id and, if this instance won
// it, revokes the credential at Twitter and settles the entry.
func (s *Server) workOff(id string) {
	r := s.revoker
	if r.ctx.Err() != nil {
		return // shutting down: it stays in the outbox
	}
	now := s.now()
	ctx, cancel := context.WithTimeout(r.ctx, s.storeTimeout)
	rev, err := s.store.ClaimRevocation(ctx, id, now.Add(r.lease), now)
	cancel()
	if err != nil {
		s.log.Warn("claim twitter revocation", "outbox_id", id, "err", err.Error())
		return
	}
	if rev == nil {
		return // done, not due, or another instance's
	}
	attempts, again, err := s.revoke(rev.Token)
	if err != nil && r.ctx.Err() != nil {
		// Its lease lapses and another instance (or this one, restarted)
		// takes the next round.
		s.log.Warn("twitter revocation abandoned at shutdown; it stays in the outbox",
			"request_id", rev.RequestID, "user_id", rev.UserID.Hex(), "flow", rev.Token.Flow)
		return
	}
	s.settle(rev, attempts, again, err)
}

// settle deletes the entry of a revocation that succeeded, failed for
// good or used up its rounds, or puts it back for a later round; and
// records the outcome.
func (s *Server) settle(rev *models.Revocation, attempts int, again bool, err error) {
	r := s.revoker
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), s.storeTimeout)
	defer cancel()
	var retryAt time.Time
	var serr error
	if err != nil && again && rev.Lease+1 < r.rounds {
		retryAt = s.now().Add(r.retryDelay(rev.Lease))
		serr = s.store.RetryRevocation(ctx, rev, retryAt, truncate(err.Error(), 200))
	} else {
		serr = s.store.FinishRevocation(ctx, rev)
	}
	if serr != nil {
		// The entry stays as it was: its round is claimed again once the
		// lease lapses.
		s.log.Warn("settle twitter revocation", "outbox_id", rev.ID, "err", serr.Error())
	}
	s.recordRevocation(ctx, rev, attempts, err, retryAt)
}
