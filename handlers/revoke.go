package handlers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/twitter"
	"example.com/twitterlogin/models"
)

// Revocation at Twitter after logout (security.md S38) is best effort: the
// local logout is already complete when it starts, so it runs in the
// background, bounded in every direction.
const (
	// revokeQueueSize bounds the logouts waiting for their revocation;
	// beyond it a revocation is dropped (and logged and recorded).
	revokeQueueSize = 256
	// revokeWorkers is how many revocations run at once.
	revokeWorkers = 2
	// revokeAttempts is how often one call to Twitter is tried.
	revokeAttempts = 3
	// revokeAttemptTimeout bounds each try.
	revokeAttemptTimeout = 5 * time.Second
	// revokeBackoff is the wait before the first retry; it doubles.
	revokeBackoff = time.Second
)

// revocation is the Twitter credential of one logout.
type revocation struct {
	userID    bson.ObjectID
	requestID string
	token     models.ProviderToken
	// client and ipPrefix of the logout, for the activity event.
	client, ipPrefix string
}

// revoker runs revocations on a few workers fed by a bounded queue. Its
// fields other than mu/closed are set before the workers start.
type revoker struct {
	queue          chan revocation
	attempts       int
	attemptTimeout time.Duration
	backoff        time.Duration

	ctx    context.Context // ends when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// startRevoker starts the revocation workers; Close stops them.
func (s *Server) startRevoker() {
	ctx, cancel := context.WithCancel(context.Background())
	r := &revoker{
		queue:          make(chan revocation, revokeQueueSize),
		attempts:       revokeAttempts,
		attemptTimeout: revokeAttemptTimeout,
		backoff:        revokeBackoff,
		ctx:            ctx,
		cancel:         cancel,
	}
	s.revoker = r
	r.wg.Add(revokeWorkers)
	for range revokeWorkers {
		go func() {
			defer r.wg.Done()
			for job := range r.queue {
				s.revoke(job)
			}
		}()
	}
}

// Close stops taking revocations and waits until the queued ones are done
// or ctx ends; then the rest are abandoned (and logged) and Close returns
// ctx's error. Call it after the HTTP server has shut down, before the
// store is closed. It first writes the last_seen touches still waiting
// for their batch. Closing twice is not an error.
func (s *Server) Close(ctx context.Context) error {
	s.sessions.FlushLastSeen(ctx)
	r := s.revoker
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
		return fmt.Errorf("handlers: close: pending Twitter revocations abandoned: %w", ctx.Err())
	}
}

// revokeLater queues the revocation of tok at Twitter, if there is one to
// revoke. It never waits: a full queue or a closed server drops the
// revocation, which is logged and recorded as not attempted.
func (s *Server) revokeLater(c *gin.Context, userID bson.ObjectID, tok *models.ProviderToken) {
	if tok == nil || tok.AccessToken == "" {
		return
	}
	job := revocation{
		userID:    userID,
		requestID: requestIDFrom(c.Request.Context()),
		token:     *tok,
		client:    browserFamily(c.Request.UserAgent()),
		ipPrefix:  ipPrefix(c.ClientIP()),
	}
	r := s.revoker
	r.mu.Lock()
	queued := false
	if !r.closed {
		select {
		case r.queue <- job:
			queued = true
		default:
		}
	}
	r.mu.Unlock()
	if !queued {
		s.finishRevocation(context.WithoutCancel(c.Request.Context()), job, 0, errors.New("not attempted: revocation queue full or server shutting down"))
	}
}

// revoke revokes one logout's credential: for OAuth 2.0 the refresh token
// (if any) and the access token (RFC 7009), for OAuth 1.0a the access
// token (invalidate_token). Each call is retried with backoff while
// Twitter is unreachable or answers 429 or 5xx.
func (s *Server) revoke(job revocation) {
	if s.revoker.ctx.Err() != nil {
		s.log.Warn("twitter revocation abandoned at shutdown", "request_id", job.requestID,
			"user_id", job.userID.Hex(), "flow", job.token.Flow)
		return
	}
	type call func(context.Context) (retry bool, err error)
	var calls []call
	tok := job.token
	switch config.Flow(tok.Flow) {
	case config.OAuth2:
		if tok.RefreshToken != "" {
			calls = append(calls, func(ctx context.Context) (bool, error) {
				return s.revokeOAuth2(ctx, tok.RefreshToken, "refresh_token")
			})
		}
		calls = append(calls, func(ctx context.Context) (bool, error) {
			return s.revokeOAuth2(ctx, tok.AccessToken, "access_token")
		})
	case config.OAuth1:
		calls = append(calls, func(ctx context.Context) (bool, error) {
			return s.invalidateOAuth1(ctx, tok.AccessToken, tok.TokenSecret)
		})
	default:
		s.finishRevocation(s.revoker.ctx, job, 0, fmt.Errorf("unknown flow %q", tok.Flow))
		return
	}
	total := 0
	for _, do := range calls {
		n, err := s.retry(do)
		total += n
		if err != nil {
			s.finishRevocation(s.revoker.ctx, job, total, err)
			return
		}
	}
	s.finishRevocation(s.revoker.ctx, job, total, nil)
}

// retry tries do up to r.attempts times, each within r.attemptTimeout,
// and returns how many tries it took and the last error.
func (s *Server) retry(do func(context.Context) (bool, error)) (int, error) {
	r := s.revoker
	wait := r.backoff
	var err error
	for n := 1; ; n++ {
		ctx, cancel := context.WithTimeout(r.ctx, r.attemptTimeout)
		var again bool
		again, err = do(ctx)
		cancel()
		if err == nil || !again || n == r.attempts {
			return n, err
		}
		// Up to half again, so that many logouts do not retry in step.
		t := time.NewTimer(wait + rand.N(wait/2+1))
		select {
		case <-r.ctx.Done():
			t.Stop()
			return n, fmt.Errorf("%w (shutting down)", err)
		case <-t.C:
		}
		wait *= 2
	}
}

// finishRevocation logs the outcome of a revocation and records it as an
// event of the user. Neither ever includes the token.
func (s *Server) finishRevocation(ctx context.Context, job revocation, attempts int, err error) {
	ev := models.Event{
		UserID: job.userID, Kind: models.EventRevoke, Flow: job.token.Flow, At: s.now(),
		Client: job.client, IPPrefix: job.ipPrefix, Detail: "ok",
	}
	log := s.log.With("request_id", job.requestID, "user_id", job.userID.Hex(), "flow", job.token.Flow, "attempts", attempts)
	if err != nil {
		ev.Detail = truncate(fmt.Sprintf("failed after %d attempts: %v", attempts, err), 200)
		if attempts == 0 {
			ev.Detail = truncate(err.Error(), 200)
		}
		log.Warn("twitter revocation failed", "err", err.Error())
	} else {
		log.Info("twitter revocation done")
	}
	// Recorded even when ctx was cancelled at shutdown: the store is open
	// until after Close.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.storeTimeout)
	defer cancel()
	if err := s.store.RecordEvent(rctx, ev); err != nil {
		log.Warn("record event", "kind", ev.Kind, "err", err.Error())
	}
}

// revokeOAuth2 revokes an OAuth 2.0 token at Twitter; hint is its kind.
// Only 429, 5xx and network errors are worth retrying.
func (s *Server) revokeOAuth2(ctx context.Context, token, hint string) (bool, error) {
	if err := s.twitter.Revoke(ctx, token, hint); err != nil {
		return retryRevoke(err), fmt.Errorf("revoke %s: %w", hint, err)
	}
	return false, nil
}

// invalidateOAuth1 invalidates an OAuth 1.0a token at Twitter. A token
// Twitter reports as already invalid is as good as invalidated.
func (s *Server) invalidateOAuth1(ctx context.Context, token, secret string) (bool, error) {
	err := s.twitter.InvalidateToken(ctx, token, secret)
	var ae *twitter.APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized && ae.Code == twitter.CodeInvalidToken {
		return false, nil
	} else if err != nil {
		return retryRevoke(err), fmt.Errorf("invalidate token: %w", err)
	}
	return false, nil
}

// retryRevoke reports whether a failed revocation call is worth another
// try: Twitter did not answer, or answered 429 or 5xx.
func retryRevoke(err error) bool {
	var ae *twitter.APIError
	if errors.As(err, &ae) {
		return retryable(ae.StatusCode)
	}
	var ne *twitter.NetError
	return errors.As(err, &ne)
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// providerTokenOf returns the user's stored Twitter credential, read fresh
// (another login may have replaced it since the session was cached), or
// the session's copy if the store cannot say.
func (s *Server) providerTokenOf(ctx context.Context, u *models.User) *models.ProviderToken {
	fresh, err := s.store.UserByID(ctx, u.ID)
	if err != nil {
		return u.Token
	}
	return fresh.Token
}

// afterLogout records a logout (why: "logout", "log out everywhere") and
// queues the revocation of the user's Twitter credential tok, read before
// it was cleared; the local logout is complete already.
func (s *Server) afterLogout(c *gin.Context, userID bson.ObjectID, tok *models.ProviderToken, why string) {
	s.recordEvent(c, userID, models.Event{Kind: models.EventSignOut})
	s.recordEvent(c, userID, models.Event{Kind: models.EventSessionEnded, Detail: why})
	s.revokeLater(c, userID, tok)
}
