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

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/session"
)

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
	c.Request = c.Request.WithContext(withState(c.Request.Context(), func(st *requestState) { st.id = id }))
	c.Next()
}

// accessLog logs one line per request. It logs the path only: query strings
// on the callback routes carry codes, tokens and verifiers.
//
// It is on every request's path, so it builds nothing when info is off,
// and builds the line from typed attributes, the request id first, as
// s.logger(c).Info would (and with the same context.Background()).
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	ctx := context.Background()
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("request_id", requestIDFrom(c.Request.Context())),
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.String("route", c.FullPath()),
		slog.Int("status", c.Writer.Status()),
		slog.Int("bytes", c.Writer.Size()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	)
	if sess := sessionFrom(c.Request.Context()); sess != nil {
		attrs = append(attrs, slog.String("user_id", sess.User.ID.Hex()))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(c *gin.Context) {
	s.setSecurityHeaders(c.Writer.Header())
	c.Next()
}

// setSecurityHeaders sets them on h; the cross-origin deny handler, which
// runs outside gin, uses it too.
func (s *Server) setSecurityHeaders(h http.Header) {
	for _, f := range s.headers.security {
		h[f.key] = f.value
	}
}

// fixedHeaders are the response header values that never change, made
// once by New: every response shares their slices (as gin shares its
// Content-Type values) instead of allocating one per header per request.
// Sharing is safe because a header's values are only ever replaced
// (Set, or assignment) or appended to, and an append to a slice of
// length and capacity 1 makes a new one.
type fixedHeaders struct {
	security []headerField // the headers every response carries
	noStore  []string      // Cache-Control: no-store
}

// headerField is one header, its key in canonical form.
type headerField struct {
	key   string
	value []string
}

func newFixedHeaders(cfg *config.Config, csp string) fixedHeaders {
	fields := [][2]string{
		{"Content-Security-Policy", csp},
		{"X-Content-Type-Options", "nosniff"},
		{"X-Frame-Options", "DENY"},
		{"Referrer-Policy", "strict-origin-when-cross-origin"},
		{"Cross-Origin-Opener-Policy", "same-origin"},
	}
	if cfg.PublicURL.Scheme == "https" {
		fields = append(fields, [2]string{"Strict-Transport-Security", "max-age=31536000; includeSubDomains"})
	}
	h := fixedHeaders{noStore: []string{"no-store"}}
	for _, f := range fields {
		h.security = append(h.security, headerField{http.CanonicalHeaderKey(f[0]), []string{f[1]}})
	}
	return h
}

// jsonAPI marks a route as JSON-only, so its errors are JSON whatever the
// client's Accept header says.
func jsonAPI(c *gin.Context) {
	updateState(c, func(st *requestState) { st.jsonAPI = true })
	c.Next()
}

// loadSession puts the signed-in user on the request context when the
// session cookie is valid and its session is live. An invalid cookie is
// cleared and the request continues signed out; a store outage fails the
// request, because we cannot tell who is asking.
func (s *Server) loadSession(c *gin.Context) {
	sess, err := s.sessions.Load(c.Request)
	switch {
	case err == nil:
		updateState(c, func(st *requestState) { st.session = sess })
	case errors.Is(err, session.ErrNotSignedIn):
		if s.sessions.HasCookie(c.Request) {
			s.logger(c).Info("session refused", "reason", err.Error())
			s.sessions.ClearCookie(c.Writer)
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
	c.Writer.Header()["Cache-Control"] = s.headers.noStore
	c.Next()
}
