package handlers

import (
	"context"

	"github.com/gin-gonic/gin"

	"example.com/twitterlogin/handlers/session"
)

// requestState is what the middleware learns about one request. It rides
// in the request context under a single key, so the middleware that fill
// it in (requestID, jsonAPI, loadSession) copy the *http.Request once per
// request rather than once each.
type requestState struct {
	id      string           // the request id (requestID)
	session *session.Session // nil when signed out
	jsonAPI bool             // a JSON-only route: errors are JSON
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// withState returns ctx with a copy of its request state changed by set;
// ctx itself, and every context made from it, keep what they saw.
func withState(ctx context.Context, set func(*requestState)) context.Context {
	st := new(requestState)
	if old := stateFrom(ctx); old != nil {
		*st = *old
	}
	set(st)
	return context.WithValue(ctx, stateKey{}, st)
}

// updateState applies set to the request's state. Inside the middleware
// chain, where requestID gave the request its state, that is in place:
// the state belongs to this request alone, and is filled in before any
// handler runs. Elsewhere the request gets a new state of its own.
func updateState(c *gin.Context, set func(*requestState)) {
	if st := stateFrom(c.Request.Context()); st != nil {
		set(st)
		return
	}
	c.Request = c.Request.WithContext(withState(c.Request.Context(), set))
}

// withSession returns ctx with the request's signed-in state: from the
// session cookie (session.Manager.Load), or from a bearer token (without
// an ID).
func withSession(ctx context.Context, s *session.Session) context.Context {
	return withState(ctx, func(st *requestState) { st.session = s })
}

// sessionFrom returns the request's session, or nil when signed out.
func sessionFrom(ctx context.Context) *session.Session {
	if st := stateFrom(ctx); st != nil {
		return st.session
	}
	return nil
}

// withJSONAPI returns ctx marked as a request to a JSON-only route.
func withJSONAPI(ctx context.Context) context.Context {
	return withState(ctx, func(st *requestState) { st.jsonAPI = true })
}

// isJSONAPI reports whether ctx is marked as a request to a JSON-only route.
func isJSONAPI(ctx context.Context) bool {
	st := stateFrom(ctx)
	return st != nil && st.jsonAPI
}

// requestIDFrom returns the request id of ctx, or "" outside a request.
func requestIDFrom(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}
