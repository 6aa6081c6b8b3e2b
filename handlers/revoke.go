package handlers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/twitter"
	"example.com/twitterlogin/models"
)

// revoke revokes one credential: for OAuth 2.0 the refresh token (if
// any) and the access token (RFC 7009), for OAuth 1.0a the access token
// (invalidate_token). Each call is retried with backoff while Twitter is
// unreachable or answers 429 or 5xx. It returns how many tries it took
// and, on failure, whether a later round might succeed.
func (s *Server) revoke(tok models.ProviderToken) (attempts int, again bool, err error) {
	type call func(context.Context) (retry bool, err error)
	var calls []call
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
		return 0, false, fmt.Errorf("unknown flow %q", tok.Flow)
	}
	for _, do := range calls {
		n, again, err := s.retry(do)
		attempts += n
		if err != nil {
			return attempts, again, err
		}
	}
	return attempts, false, nil
}

// retry tries do up to r.attempts times, each within r.attemptTimeout,
// and returns how many tries it took, whether the last failure was worth
// retrying, and the last error.
func (s *Server) retry(do func(context.Context) (bool, error)) (int, bool, error) {
	r := s.revoker
	wait := r.backoff
	var err error
	for n := 1; ; n++ {
		ctx, cancel := context.WithTimeout(r.ctx, r.attemptTimeout)
		var again bool
		again, err = do(ctx)
		cancel()
		if err == nil || !again || n == r.attempts {
			return n, again, err
		}
		// Up to half again, so that many logouts do not retry in step.
		t := time.NewTimer(wait + rand.N(wait/2+1))
		select {
		case <-r.ctx.Done():
			t.Stop()
			return n, again, fmt.Errorf("%w (shutting down)", err)
		case <-t.C:
		}
		wait *= 2
	}
}

// recordRevocation logs the outcome of a round of a revocation and
// records it as an event of the user. Neither ever includes the token.
// retryAt is when the next round is due; zero when there is none.
func (s *Server) recordRevocation(ctx context.Context, rev *models.Revocation, attempts int, err error, retryAt time.Time) {
	ev := models.Event{
		UserID: rev.UserID, Kind: models.EventRevoke, Flow: rev.Token.Flow, At: s.now(),
		Client: rev.Client, IPPrefix: rev.IPPrefix, Detail: "ok",
	}
	log := s.log.With("request_id", rev.RequestID, "user_id", rev.UserID.Hex(), "flow", rev.Token.Flow,
		"reason", rev.Reason, "round", rev.Lease, "attempts", attempts)
	switch {
	case err == nil:
		log.Info("twitter revocation done")
	case attempts == 0:
		ev.Detail = truncate(err.Error(), 200)
	default:
		ev.Detail = truncate(fmt.Sprintf("failed after %d attempts: %v", attempts, err), 200)
	}
	switch {
	case err != nil && retryAt.IsZero():
		log.Warn("twitter revocation failed; given up", "err", err.Error())
	case err != nil:
		log.Warn("twitter revocation failed; will retry", "err", err.Error(), "retry_at", retryAt)
	}
	if rev.Reason == models.DeletionReason {
		return // the account is gone: an event would name it again
	}
	if err := s.store.RecordEvent(ctx, ev); err != nil {
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

// afterLogout records a logout (why: "logout", "log out everywhere") and
// hands the revocation of the user's Twitter credential, moved to outbox
// entry outboxID ("" for none), to the workers; the local logout is
// complete already.
func (s *Server) afterLogout(c *gin.Context, userID bson.ObjectID, outboxID, why string) {
	s.recordEvent(c, userID, models.Event{Kind: models.EventSignOut})
	s.recordEvent(c, userID, models.Event{Kind: models.EventSessionEnded, Detail: why})
	if outboxID != "" {
		s.revoker.enqueue(outboxID)
	}
}
