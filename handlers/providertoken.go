package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/oauth2"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/session"
	"example.com/twitterlogin/handlers/twitter"
	"example.com/twitterlogin/models"
)

// providerTokenStore is what refreshing the stored Twitter credential
// uses: one refresh per generation across instances, and a lost race's
// tokens queued for revocation.
type providerTokenStore interface {
	UserByID(ctx context.Context, id bson.ObjectID) (*models.User, error)
	ReplaceProviderToken(ctx context.Context, id bson.ObjectID, oldGeneration int64, tok models.ProviderToken) (bool, error)
	ClearProviderTokenGeneration(ctx context.Context, id bson.ObjectID, generation int64) (bool, error)
	ClaimTokenRefresh(ctx context.Context, id bson.ObjectID, generation int64, until, now time.Time) (bool, error)
	ReleaseTokenRefresh(ctx context.Context, id bson.ObjectID, generation int64) error
	QueueRevocation(ctx context.Context, r models.Revocation, now time.Time) (string, error)
}

// Refreshing Twitter's OAuth 2.0 access tokens.
//
// Twitter's access tokens live 2 hours; with offline.access a login also
// gets a refresh token, which is single use: each refresh returns a new
// one and the old one stops working. So two refreshes of one token must
// never both be sent. Within a process, concurrent callers for one user
// share one refresh (singleflight). Across instances, an instance first
// claims the refresh of the stored token's generation (a short lease,
// models.Store.ClaimTokenRefresh), and stores the new token with a
// conditional update on that generation (ReplaceProviderToken); an
// instance that loses the claim waits and reads the winner's token instead
// of spending the refresh token again.
const (
	// tokenExpiryMargin treats an access token as expired this long
	// before its expiry, so it does not die on its way to Twitter.
	tokenExpiryMargin = 30 * time.Second
	// leasePoll is how often an instance waiting for another instance's
	// refresh looks at the stored token.
	leasePoll = 50 * time.Millisecond
)

// errTwitterLoginEnded means the user's Twitter credential is gone or no
// longer works (refresh refused, token revoked, signed out elsewhere):
// only a new sign-in can get another.
var errTwitterLoginEnded = errors.New("twitter login ended")

// oauth2ProviderToken is what is stored of a token response. The expiry is
// computed on the server's clock from expires_in; the generation starts
// from the clock too, so a new login never reuses an old generation.
func (s *Server) oauth2ProviderToken(tok *oauth2.Token) models.ProviderToken {
	pt := models.ProviderToken{
		Flow:        string(config.OAuth2),
		AccessToken: tok.AccessToken,
		Generation:  s.now().UnixNano(),
	}
	if s.cfg.Twitter.OfflineAccess {
		pt.RefreshToken = tok.RefreshToken
	}
	switch {
	case tok.ExpiresIn > 0:
		pt.Expiry = s.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	default:
		pt.Expiry = tok.Expiry
	}
	return pt
}

// rateLimited returns the API call's 429 behind err, or nil. A token
// endpoint's 429 is not one: it fails the sign-in like any refusal.
func rateLimited(err error) *twitter.APIError {
	var se *twitter.APIError
	if errors.As(err, &se) && se.StatusCode == http.StatusTooManyRequests {
		return se
	}
	return nil
}

// twitterToken returns the user's stored Twitter credential, valid now:
// an expired OAuth 2.0 access token is refreshed first. It fails with
// errTwitterLoginEnded when there is no usable credential any more.
func (s *Server) twitterToken(ctx context.Context, userID bson.ObjectID) (*models.ProviderToken, error) {
	tok, err := s.storedToken(ctx, userID)
	if err != nil || s.tokenFresh(tok) {
		return tok, err
	}
	// The shared refresh must not fail because the request that started
	// it went away, so it runs on a context of its own.
	rctx := context.WithoutCancel(ctx)
	ch := s.refreshes.DoChan(userID.Hex(), func() (any, error) {
		rctx, cancel := context.WithTimeout(rctx, s.storeTimeout+3*s.cfg.Twitter.Timeout)
		defer cancel()
		return s.refreshTwitterToken(rctx, userID)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*models.ProviderToken), nil
	}
}

// storedToken reads the user's provider token from the store (not from
// the session cache, which may hold one that has since been replaced).
func (s *Server) storedToken(ctx context.Context, userID bson.ObjectID) (*models.ProviderToken, error) {
	u, err := s.store.UserByID(ctx, userID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return nil, fmt.Errorf("%w: user deleted", errTwitterLoginEnded)
	case err != nil:
		return nil, fmt.Errorf("load twitter token: %w", err)
	case u.Token == nil || u.Token.AccessToken == "":
		return nil, fmt.Errorf("%w: no stored token", errTwitterLoginEnded)
	}
	return u.Token, nil
}

// tokenFresh reports whether tok can be used now. OAuth 1.0a tokens do
// not expire.
func (s *Server) tokenFresh(tok *models.ProviderToken) bool {
	return tok.Flow == string(config.OAuth1) || tok.Expiry.IsZero() || s.now().Add(tokenExpiryMargin).Before(tok.Expiry)
}

// refreshTwitterToken refreshes the user's expired access token, or waits
// for the instance that is doing so, and returns the fresh token.
func (s *Server) refreshTwitterToken(ctx context.Context, userID bson.ObjectID) (*models.ProviderToken, error) {
	for {
		tok, err := s.storedToken(ctx, userID)
		if err != nil || s.tokenFresh(tok) {
			return tok, err // refreshed meanwhile, here or elsewhere
		}
		if tok.RefreshToken == "" {
			return nil, fmt.Errorf("%w: access token expired and there is no refresh token", errTwitterLoginEnded)
		}
		now := s.now()
		won, err := s.store.ClaimTokenRefresh(ctx, userID, tok.Generation, now.Add(s.cfg.Twitter.Timeout+5*time.Second), now)
		if err != nil {
			return nil, fmt.Errorf("claim token refresh: %w", err)
		}
		if !won {
			// Another instance is refreshing this token: wait for its
			// result rather than spend the refresh token a second time.
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for another instance's token refresh: %w", ctx.Err())
			case <-time.After(leasePoll):
			}
			continue
		}
		fresh, err := s.refreshIfUnchanged(ctx, userID, tok)
		s.releaseRefresh(ctx, userID, tok.Generation)
		if err != nil || fresh != nil {
			return fresh, err
		}
		// Refreshed elsewhere, or signed in again or out meanwhile: what is
		// stored now is the truth.
	}
}

// refreshIfUnchanged refreshes tok while holding the claim on its
// generation, unless the stored token has moved on: our read may predate
// another instance's refresh of this very generation, whose claim it has
// since released, so look again before spending the refresh token. It
// returns nil, nil when the stored token changed.
func (s *Server) refreshIfUnchanged(ctx context.Context, userID bson.ObjectID, tok *models.ProviderToken) (*models.ProviderToken, error) {
	again, err := s.storedToken(ctx, userID)
	if err != nil || again.Generation != tok.Generation || s.tokenFresh(again) {
		return nil, nil // the loop reads it again and decides
	}
	return s.refreshWithClaim(ctx, userID, tok)
}

// releaseRefresh gives up the claim on generation, logging a failure.
func (s *Server) releaseRefresh(ctx context.Context, userID bson.ObjectID, generation int64) {
	if err := s.store.ReleaseTokenRefresh(ctx, userID, generation); err != nil {
		s.log.Warn("release token refresh claim", "user_id", userID.Hex(), "err", err.Error())
	}
}

// refreshWithClaim spends tok's refresh token, holding the claim on its
// generation, and stores the result. It returns nil, nil when the stored
// token changed meanwhile.
func (s *Server) refreshWithClaim(ctx context.Context, userID bson.ObjectID, tok *models.ProviderToken) (*models.ProviderToken, error) {
	fresh, err := s.refreshAtTwitter(ctx, tok.RefreshToken)
	if errors.Is(err, errTwitterLoginEnded) {
		// The refresh token is dead; so is the stored credential.
		if _, cerr := s.store.ClearProviderTokenGeneration(ctx, userID, tok.Generation); cerr != nil {
			return nil, errors.Join(err, cerr)
		}
		s.sessions.UserRevoked(ctx, userID)
		return nil, err
	} else if err != nil {
		return nil, err
	}
	won, err := s.store.ReplaceProviderToken(ctx, userID, tok.Generation, fresh)
	if err != nil {
		return nil, fmt.Errorf("store refreshed token: %w", err)
	}
	if !won {
		// A logout (or a new sign-in) got in first: what Twitter just
		// issued is stored nowhere, so nothing would ever revoke it.
		return nil, s.revokeUnstored(ctx, userID, fresh, tok.Generation+1)
	}
	s.sessions.ForgetUser(userID)
	s.log.Info("twitter token refreshed", "user_id", userID.Hex())
	fresh.Generation = tok.Generation + 1
	return &fresh, nil
}

// revokeUnstored queues the revocation of tok, a refresh's result that
// was not stored, in the outbox and hands it to the workers.
func (s *Server) revokeUnstored(ctx context.Context, userID bson.ObjectID, tok models.ProviderToken, generation int64) error {
	rev := models.Revocation{
		ID:     models.OutboxID(userID, generation, "unstored"),
		UserID: userID, Token: tok, Reason: "refresh lost to a logout",
		RequestID: requestIDFrom(ctx),
	}
	id, err := s.store.QueueRevocation(ctx, rev, s.now())
	if err != nil {
		return fmt.Errorf("queue revocation of an unstored refreshed token: %w", err)
	}
	s.log.Info("refreshed twitter token lost to a logout; queued for revocation", "user_id", userID.Hex())
	s.revoker.enqueue(id)
	return nil
}

// refreshAtTwitter spends refreshToken at Twitter's token endpoint. A
// refusal (invalid_grant, or X's invalid_request) is errTwitterLoginEnded.
func (s *Server) refreshAtTwitter(ctx context.Context, refreshToken string) (models.ProviderToken, error) {
	tok, err := s.twitter.Refresh(ctx, refreshToken)
	var te *twitter.TokenError
	switch {
	case errors.As(err, &te) && te.GrantRefused():
		return models.ProviderToken{}, fmt.Errorf("%w: refresh refused: %w", errTwitterLoginEnded, err)
	case err != nil:
		return models.ProviderToken{}, &providerError{step: "token refresh", err: err}
	}
	// Twitter rotates refresh tokens; x/oauth2 keeps the old one when a
	// response has none.
	return s.oauth2ProviderToken(tok), nil
}

// twitterMe is the answer of GET /twitter/me: who Twitter says the signed-in
// user is, right now.
type twitterMe struct {
	ID        string `json:"id"`
	Handle    string `json:"handle"`
	Name      string `json:"name"`
	AvatarURL string `json:"avatar_url,omitempty"`
}

// handleTwitterMe asks Twitter who the signed-in user is, with their
// stored credential (refreshed if it has expired). When the credential no
// longer works the login ends: the session is deleted and the answer is
// 401, so the user signs in again.
func (s *Server) handleTwitterMe(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*s.storeTimeout+3*s.cfg.Twitter.Timeout)
	defer cancel()
	tok, err := s.twitterToken(ctx, sess.User.ID)
	if errors.Is(err, errTwitterLoginEnded) {
		s.endTwitterLogin(c, sess, err)
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	var p twitter.User
	step := "users/me"
	if tok.Flow == string(config.OAuth1) {
		step = "verify credentials"
		p, err = s.twitter.VerifyCredentials(ctx, tok.AccessToken, tok.TokenSecret)
	} else {
		p, err = s.twitter.UsersMe(ctx, tok.AccessToken)
	}
	var se *twitter.APIError
	if errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized {
		// Revoked at Twitter (by the user, say): the credential is dead.
		s.endTwitterLogin(c, sess, fmt.Errorf("%w: %w", errTwitterLoginEnded, err))
		return
	} else if err != nil {
		s.fail(c, &providerError{step: step, err: err})
		return
	}
	c.JSON(http.StatusOK, twitterMe{ID: p.ID, Handle: p.Handle, Name: p.Name, AvatarURL: p.AvatarURL})
}

// endTwitterLogin ends the session whose Twitter credential stopped
// working and answers 401 with a clearing cookie.
func (s *Server) endTwitterLogin(c *gin.Context, sess *session.Session, cause error) {
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	if err := s.store.DeleteSession(ctx, sess.ID); err != nil && !errors.Is(err, models.ErrNotFound) {
		s.fail(c, fmt.Errorf("delete session: %w", err))
		return
	}
	s.sessions.SessionRevoked(ctx, sess.ID)
	s.logger(c).Info("twitter login ended", "user_id", sess.User.ID.Hex())
	s.fail(c, failure(http.StatusUnauthorized, "Your Twitter sign-in has ended. Please sign in again.", cause))
}

// retryAfter is the Retry-After value (seconds) for a rate-limit window
// that resets at reset: at least a minute, at most the 15-minute window.
func retryAfter(reset, now time.Time) string {
	d := reset.Sub(now)
	d = min(max(d, time.Minute), 15*time.Minute)
	return strconv.Itoa(int(d.Seconds()))
}
