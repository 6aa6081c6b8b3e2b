package handlers

import (
	"net/http"

	"example.com/twitterlogin/handlers/session"
)

// TokenOnlyHandler returns a handler that verifies the session cookie's
// JWT (signature, algorithm, claims) and answers 204 or 401, and does
// nothing else: no session or user lookup, no gin. It exists for load
// tests, as the floor the full authentication is compared against; it is
// not a way to authenticate requests, because it ignores logout.
func (s *Server) TokenOnlyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(session.CookieName)
		if err == nil {
			_, _, err = s.sessions.Verify(ck.Value)
		}
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
