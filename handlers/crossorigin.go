package handlers

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// crossOriginRoute is the route label of refused cross-origin requests:
// they are refused before gin matches a route.
const crossOriginRoute = "cross-origin-refused"

// jsonAPIPrefixes are the routes marked jsonAPI, which the deny handler
// cannot ask gin about. Keep in step with routes and tokenRoutes.
var jsonAPIPrefixes = []string{"/db", "/me", "/twitter/me", "/token", "/readyz"}

func isJSONAPIPath(p string) bool {
	for _, x := range jsonAPIPrefixes {
		if p == x || strings.HasPrefix(p, x+"/") {
			return true
		}
	}
	return false
}

// refuseCrossOrigin answers a request CrossOriginProtection refused: 403
// in the same form as the app's own errors (JSON when fail would choose
// it), with the security headers, and counted in the request metrics.
func (s *Server) refuseCrossOrigin(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.log.Info("cross-origin request refused", "method", r.Method, "path", r.URL.Path)
	s.setSecurityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	if isJSONAPIPath(r.URL.Path) {
		r = r.WithContext(withJSONAPI(r.Context()))
	}
	// wantsJSON reads only the request, so a bare gin.Context will do.
	if wantsJSON(&gin.Context{Request: r}) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":"Cross-origin request refused."}`)
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "Cross-origin request refused.\n")
	}
	s.countRequest(crossOriginRoute, r.Method, http.StatusForbidden, time.Since(start))
}
