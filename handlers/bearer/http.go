package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxTokenLen bounds the token read from the Authorization header.
const maxTokenLen = 8 << 10

// Error is a refused request, shaped for RFC 6750 §3: Status is 400, 401
// or 403; Code is "" (no credentials), invalid_request, invalid_token or
// insufficient_scope; Description says why in a few words and is safe to
// show.
type Error struct {
	Status      int
	Code        string
	Description string
	// Scope is the route that was needed, for insufficient_scope.
	Scope string
	err   error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("bearer %d %s: %s", e.Status, e.Code, e.Description)
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.err }

// Challenge returns the WWW-Authenticate value for e in realm.
func (e *Error) Challenge(realm string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="` + quote(realm) + `"`)
	if e.Code != "" {
		b.WriteString(`, error="` + e.Code + `", error_description="` + quote(e.Description) + `"`)
	}
	if e.Scope != "" {
		b.WriteString(`, scope="` + quote(e.Scope) + `"`)
	}
	return b.String()
}

// quote drops the characters a quoted-string in a challenge cannot hold
// as-is.
func quote(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

func invalidToken(desc string, err error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: desc, err: err}
}

// Authenticate reads the bearer token from the request's Authorization
// header (never from the query or body) and verifies it. Without bearer
// credentials it fails with a 401 *Error without a code.
func (v *Verifier) Authenticate(r *http.Request) (*Claims, error) {
	hs := r.Header.Values("Authorization")
	switch {
	case len(hs) == 0:
		return nil, &Error{Status: http.StatusUnauthorized, Description: "a bearer token is required"}
	case len(hs) > 1:
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "send one Authorization header"}
	}
	scheme, raw, _ := strings.Cut(strings.TrimSpace(hs[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, &Error{Status: http.StatusUnauthorized, Description: "a bearer token is required"}
	}
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxTokenLen || strings.ContainsAny(raw, " \t") {
		return nil, invalidToken("the Authorization header is malformed", nil)
	}
	return v.Verify(r.Context(), raw)
}

// Check authenticates r and authorizes it for its path: the path must be
// canonical (see CleanPath) and granted exactly by the token's access
// claim. Refusals are *Error: 401 as Authenticate, 400 invalid_request for
// a path in a non-canonical form, 403 insufficient_scope for a route the
// token does not grant.
func (v *Verifier) Check(r *http.Request) (*Claims, error) {
	c, err := v.Authenticate(r)
	if err != nil {
		return nil, err
	}
	p, ok := CleanPath(r.URL)
	if !ok {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "the request path is not in canonical form"}
	}
	if !Grants(c.Access, p) {
		return nil, &Error{Status: http.StatusForbidden, Code: "insufficient_scope", Description: "the token does not grant this route", Scope: p}
	}
	return c, nil
}

// CleanPath returns u's path if it is in canonical form: absolute, without
// "." or ".." segments (also percent-encoded ones), doubled slashes or a
// trailing slash, and without percent-encoding beyond the default (so
// "%2F" or "%2e" cannot make the router and the grant check disagree).
// Otherwise it returns false.
func CleanPath(u *url.URL) (string, bool) {
	p := u.Path
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || u.RawPath != "" || strings.Contains(p, "\\") {
		return "", false
	}
	return p, true
}

// Grants reports whether access grants route: exactly, so "/image" grants
// /image but not /image/metadata.
func Grants(access []string, route string) bool {
	return slices.Contains(access, route)
}

// WriteError writes the RFC 6750 response for err: the status, a
// WWW-Authenticate challenge and a one-line JSON body. An error that is
// not an *Error is answered as an invalid token.
func (v *Verifier) WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = invalidToken("the token is invalid", err)
	}
	code := e.Code
	if code == "" {
		code = "unauthorized"
	}
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, e.Description})
	h := w.Header()
	h.Set("WWW-Authenticate", e.Challenge(v.realm))
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	w.Write(append(body, '\n'))
}

type ctxKey struct{}

// WithClaims returns ctx carrying c.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// ClaimsFrom returns the verified claims of the request, or nil.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(ctxKey{}).(*Claims)
	return c
}

// Middleware guards next: each request must carry a token that grants its
// path (Check), or it is refused with WriteError. next finds the claims
// with ClaimsFrom.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Check(r)
		if err != nil {
			v.WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
	})
}

// Gin is Middleware for gin routes.
func (v *Verifier) Gin() gin.HandlerFunc {
	return func(c *gin.Context) {
		cl, err := v.Check(c.Request)
		if err != nil {
			v.WriteError(c.Writer, err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(WithClaims(c.Request.Context(), cl))
		c.Next()
	}
}
