package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxReturnPath bounds a return target (security.md S75): it travels in
// the login-state cookie, which must stay small.
const maxReturnPath = 512

// returnToKey carries the return target of a completed login from
// takeLogin to finishLogin.
type returnToKey struct{}

func withReturnTo(ctx context.Context, path string) context.Context {
	return context.WithValue(ctx, returnToKey{}, path)
}

// returnToFrom is where a login finishing on this request sends the
// browser: the page it started from, or "/".
func returnToFrom(ctx context.Context) string {
	if p, _ := ctx.Value(returnToKey{}).(string); p != "" {
		return p
	}
	return "/"
}

// safeReturnPath returns raw if it is a same-origin relative path that is
// safe to redirect to after login, and "/" otherwise (security.md S75): it
// must start with exactly one "/", followed by neither "/" nor "\"; have no
// scheme, host or user info after url.Parse; contain no control character
// or backslash; and be at most maxReturnPath bytes. Percent-encoded forms
// are decoded (repeatedly, as a confused proxy or framework might) and must
// pass the same checks, so %2F%2F, %5C and %09 are refused too. Paths
// under /auth/ are refused so a login cannot return into another login.
func safeReturnPath(raw string) string {
	if raw == "" || len(raw) > maxReturnPath {
		return "/"
	}
	s := raw
	for round := 0; ; round++ {
		if !plainLocalPath(s) {
			return "/"
		}
		dec, err := url.PathUnescape(s)
		if err != nil {
			return "/"
		}
		if dec == s {
			break
		}
		if round == 3 {
			// Still encoded after several rounds: nothing legitimate is.
			return "/"
		}
		s = dec
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	if u.Path == "/auth" || strings.HasPrefix(u.Path, "/auth/") {
		return "/"
	}
	return raw
}

// plainLocalPath checks one decoding of a return target.
func plainLocalPath(s string) bool {
	if len(s) == 0 || s[0] != '/' {
		return false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f || b == '\\' {
			return false
		}
	}
	return true
}

// requirePageUser guards an HTML page: a signed-out browser is sent to
// sign in with the configured flow and comes back to this page afterwards.
// Only GET and HEAD come back; anything else is refused with 401.
func (s *Server) requirePageUser(c *gin.Context) {
	if sessionFrom(c.Request.Context()) != nil {
		c.Header("Cache-Control", "no-store")
		c.Next()
		return
	}
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		s.fail(c, errUnauthenticated)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, s.loginURL(c.Request.URL.RequestURI()))
	c.Abort()
}

// loginURL is where to start a login that returns to next.
func (s *Server) loginURL(next string) string {
	u := "/auth/" + string(s.cfg.Flow) + "/login"
	if next = safeReturnPath(next); next != "/" {
		u += "?" + url.Values{"next": {next}}.Encode()
	}
	return u
}
