package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	sessionKey
	jsonAPIKey
)

// session is the signed-in state of a request.
type session struct {
	User *models.User
	ID   string // session id, from the verified token
}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, sessionKey, s)
}

// sessionFrom returns the request's session, or nil when signed out.
func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey).(*session)
	return s
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// logger returns the server's logger with the request id attached.
func (s *Server) logger(c *gin.Context) *slog.Logger {
	return s.log.With("request_id", requestIDFrom(c.Request.Context()))
}

// recovery turns a panic into a plain 500 page: the stack goes to the log,
// never to the client.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.logger(c).Error("panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			s.fail(c, fmt.Errorf("panic: %v", p))
		}
	}()
	c.Next()
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID accepts a sane incoming X-Request-Id (from a load balancer) or
// makes one, and echoes it on the response.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !validRequestID.MatchString(id) {
		id = randomID()
	}
	c.Header("X-Request-Id", id)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey, id))
	c.Next()
}

// accessLog logs one line per request. It logs the path only: query strings
// on the callback routes carry codes, tokens and verifiers.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	attrs := []any{
		"method", c.Request.Method,
		"path", c.Request.URL.Path,
		"route", c.FullPath(),
		"status", c.Writer.Status(),
		"bytes", c.Writer.Size(),
		"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
	}
	if sess := sessionFrom(c.Request.Context()); sess != nil {
		attrs = append(attrs, "user_id", sess.User.ID.Hex())
	}
	s.logger(c).Info("request", attrs...)
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(c *gin.Context) {
	s.setSecurityHeaders(c.Writer.Header())
	c.Next()
}

// setSecurityHeaders sets them on h; the cross-origin deny handler, which
// runs outside gin, uses it too.
func (s *Server) setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.cfg.PublicURL.Scheme == "https" {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
}

// jsonAPI marks a route as JSON-only, so its errors are JSON whatever the
// client's Accept header says.
func jsonAPI(c *gin.Context) {
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), jsonAPIKey, true))
	c.Next()
}

// loadSession puts the signed-in user on the request context when the
// session cookie is valid and its session is live. An invalid cookie is
// cleared and the request continues signed out; a store outage fails the
// request, because we cannot tell who is asking.
func (s *Server) loadSession(c *gin.Context) {
	sess, err := s.authenticate(c)
	switch {
	case err == nil:
		c.Request = c.Request.WithContext(withSession(c.Request.Context(), sess))
	case errors.Is(err, errUnauthenticated):
		if hasSessionCookie(c) {
			s.logger(c).Info("session refused", "reason", err.Error())
			s.clearSessionCookie(c)
		}
	default:
		s.fail(c, err)
		return
	}
	c.Next()
}

// requireUser refuses requests without a live session with 401.
func (s *Server) requireUser(c *gin.Context) {
	if sessionFrom(c.Request.Context()) == nil {
		s.fail(c, errUnauthenticated)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// authenticate verifies the session cookie and checks that its session and
// user still exist: from the cache when it can vouch for them, else from
// the store. Every refusal wraps errUnauthenticated.
func (s *Server) authenticate(c *gin.Context) (*session, error) {
	ck, err := c.Request.Cookie(sessionCookie)
	if err != nil {
		return nil, errUnauthenticated
	}
	uid, sid, err := s.verifySessionToken(ck.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnauthenticated, err)
	}
	now := s.now()
	// The shared lookup must not fail because the one request that started
	// it went away, so it runs on a context of its own.
	ctx := context.WithoutCancel(c.Request.Context())
	if hit, ok := s.cache.get(sid, uid, now); ok {
		if hit.user == nil {
			return nil, fmt.Errorf("%w: session ended", errUnauthenticated)
		}
		s.afterHit(ctx, uid, sid, now, hit)
		return &session{User: hit.user, ID: sid}, nil
	}
	v, err, _ := s.loads.Do(sid, func() (any, error) { return s.lookupSession(ctx, uid, sid, now) })
	if err != nil {
		return nil, err
	}
	return &session{User: v.(*models.User), ID: sid}, nil
}

// afterHit starts, off the request path, what a cache hit asks for.
func (s *Server) afterHit(ctx context.Context, uid bson.ObjectID, sid string, now time.Time, hit cacheHit) {
	if hit.reloadSession {
		s.loads.DoChan(sid, func() (any, error) { return s.lookupSession(ctx, uid, sid, now) })
	}
	if hit.reloadUser {
		go s.reloadUser(ctx, uid)
	}
	if hit.touch {
		s.touch(sid, now)
	}
}

// lookupSession reads session sid from the store, and its user unless the
// cache has them, checks they belong together, and caches the result.
func (s *Server) lookupSession(ctx context.Context, uid bson.ObjectID, sid string, now time.Time) (*models.User, error) {
	ctx, cancel := context.WithTimeout(ctx, s.storeTimeout)
	defer cancel()
	t := s.cache.ticket()
	s.cacheMetrics.reads(cacheReadSession)
	sess, err := s.store.SessionByID(ctx, sid, now)
	if errors.Is(err, models.ErrNotFound) {
		// The token cannot outlive SessionLifetime, nor the tombstone.
		s.cache.ended(sid, now.Add(s.cfg.SessionLifetime), now)
		return nil, fmt.Errorf("%w: session ended", errUnauthenticated)
	} else if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if sess.UserID != uid {
		return nil, fmt.Errorf("%w: session belongs to another user", errUnauthenticated)
	}
	user, fresh := s.cache.user(uid), false
	if user == nil {
		s.cacheMetrics.reads(cacheReadUser)
		user, err = s.store.UserByID(ctx, uid)
		if errors.Is(err, models.ErrNotFound) {
			return nil, fmt.Errorf("%w: user deleted", errUnauthenticated)
		} else if err != nil {
			return nil, fmt.Errorf("load user: %w", err)
		}
		fresh = true
	}
	if s.cache.put(t, sid, sess, user, fresh, now) {
		s.touch(sid, now)
	}
	return user, nil
}

// reloadUser re-reads the profile of a cached user in the background.
// A deleted user is dropped, so their sessions are read again, and
// refused, when next used.
func (s *Server) reloadUser(ctx context.Context, uid bson.ObjectID) {
	ctx, cancel := context.WithTimeout(ctx, s.storeTimeout)
	defer cancel()
	t := s.cache.ticket()
	s.cacheMetrics.reads(cacheReadUser)
	u, err := s.store.UserByID(ctx, uid)
	switch {
	case errors.Is(err, models.ErrNotFound):
		s.cache.dropUser(uid)
	case err != nil:
		s.cache.userReloadFailed(uid, s.now())
		s.log.Warn("reload user", "user_id", uid.Hex(), "err", err.Error())
	default:
		s.cache.setUser(t, u, s.now())
	}
}
