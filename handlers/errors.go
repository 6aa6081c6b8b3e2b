package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"example.com/twitterlogin/handlers/session"
	"example.com/twitterlogin/models"
)

// appError is a failure whose status and message are safe to show to the
// client. The wrapped error, if any, is only logged.
type appError struct {
	status int
	msg    string
	err    error
}

func (e *appError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.msg, e.err)
	}
	return fmt.Sprintf("%d %s", e.status, e.msg)
}

func (e *appError) Unwrap() error { return e.err }

// failure returns an appError with a client-facing message and an optional
// cause for the log.
func failure(status int, msg string, cause error) error {
	return &appError{status: status, msg: msg, err: cause}
}

// providerError is a failed call to Twitter. Its text never includes a token:
// it is built from the step, the HTTP status and Twitter's error code only.
type providerError struct {
	step string // "request token", "token exchange", "verify credentials", ...
	err  error
}

func (e *providerError) Error() string { return "twitter " + e.step + ": " + e.err.Error() }
func (e *providerError) Unwrap() error { return e.err }

// errUnauthenticated is the cause behind every 401.
var errUnauthenticated = errors.New("not signed in")

// errDraining is the cause of /readyz's 503 during a shutdown.
var errDraining = errors.New("draining")

// classify maps an error to the status and message the client sees. It is
// the only place that decides this, so every handler ends with
// s.fail(c, err).
func classify(err error) (int, string) {
	var ae *appError
	var pe *providerError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.msg
	case errors.Is(err, errUnauthenticated), errors.Is(err, session.ErrNotSignedIn):
		return http.StatusUnauthorized, "Please sign in."
	case rateLimited(err) != nil:
		return http.StatusServiceUnavailable, "Twitter is limiting requests right now. Please try again in a few minutes."
	case errors.As(err, &pe):
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return http.StatusGatewayTimeout, "Twitter did not answer in time. Please try signing in again."
		}
		return http.StatusBadGateway, "Twitter could not complete the sign-in. Please try again."
	case errors.Is(err, models.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "The database is unavailable right now. Please try again shortly."
	case errors.Is(err, models.ErrNotFound):
		return http.StatusNotFound, "Not found."
	default:
		return http.StatusInternalServerError, "Something went wrong on our side."
	}
}

// isTimeout reports whether err is a network timeout (an http.Client
// Timeout, for example).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// fail writes the response for err, as JSON or as an HTML page depending on
// what the client asked for, and logs it once. Internal details never reach
// the client.
func (s *Server) fail(c *gin.Context, err error) {
	if clientGone(c, err) {
		s.clientDisconnected(c, err)
		return
	}
	status, msg := classify(err)
	if err != nil {
		_ = c.Error(err) // for observers such as countLogin; never rendered
	}
	level := slog.LevelInfo
	switch {
	case errors.Is(err, errDraining):
		// Expected while shutting down, and repeated by every probe.
		level = slog.LevelDebug
	case status >= 500:
		level = slog.LevelError
	}
	s.logger(c).Log(c.Request.Context(), level, "request failed", "status", status, "err", err.Error())
	if status == http.StatusUnauthorized && s.sessions.HasCookie(c.Request) {
		s.sessions.ClearCookie(c.Writer)
	}
	if c.Writer.Written() {
		c.Abort()
		return
	}
	if rl := rateLimited(err); rl != nil {
		c.Header("Retry-After", retryAfter(rl.RateLimitReset, s.now()))
	}
	if wantsJSON(c) {
		c.Header("Cache-Control", "no-store")
		c.AbortWithStatusJSON(status, gin.H{"error": msg})
		return
	}
	s.render(c, status, "error", errorPage{
		layout:  s.layout(c, http.StatusText(status)),
		Status:  status,
		Message: msg,
	})
	c.Abort()
}

// statusClientClosedRequest is nginx's 499: the client went away before
// the response was ready. It is logged and counted, never sent.
const statusClientClosedRequest = 499

// clientGone reports whether err comes from the request's own context
// being cancelled, that is, the client disconnected. A store deadline
// (context.DeadlineExceeded) or outage is not that, even if the client has
// left too: those stay 503s, logged as errors.
func clientGone(c *gin.Context, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(c.Request.Context().Err(), context.Canceled)
}

// clientDisconnected ends a request whose client has gone. Nobody is left
// to answer, so nothing is written; the status is set explicitly so the
// access log and the metrics record 499, not gin's default 200.
func (s *Server) clientDisconnected(c *gin.Context, err error) {
	_ = c.Error(err) // for observers such as countLogin
	s.logger(c).Debug("client disconnected", "status", statusClientClosedRequest,
		"method", c.Request.Method, "route", c.FullPath(), "err", err.Error())
	c.Status(statusClientClosedRequest)
	c.Abort()
}

// wantsJSON reports whether the client is an API client rather than a
// browser page: an HTML form gets a page; a JSON-only route, a JSON body or
// an Accept header preferring JSON gets JSON.
func wantsJSON(c *gin.Context) bool {
	switch c.ContentType() {
	case gin.MIMEPOSTForm, gin.MIMEMultipartPOSTForm:
		return false
	case gin.MIMEJSON:
		return true
	}
	if isJSONAPI(c.Request.Context()) {
		return true
	}
	return c.NegotiateFormat(gin.MIMEHTML, gin.MIMEJSON) == gin.MIMEJSON
}
