package handlers

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"example.com/twitterlogin/static"
)

// staticRoutes serves the embedded assets under /static/.
func (s *Server) staticRoutes(r *gin.Engine) {
	r.GET("/static/*filepath", s.handleStatic)
	r.HEAD("/static/*filepath", s.handleStatic)
}

// handleStatic serves one asset. A directory is a 404, not a listing
// (gin's StaticFS lists them), and so is anything fs.ValidPath refuses.
func (s *Server) handleStatic(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("filepath"), "/")
	if fi, err := fs.Stat(static.FS, name); err != nil || fi.IsDir() {
		s.fail(c, failure(http.StatusNotFound, "Page not found.", nil))
		return
	}
	c.FileFromFS(name, http.FS(static.FS))
}
