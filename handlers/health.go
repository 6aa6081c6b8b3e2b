package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthStore is what /readyz and the active-sessions gauge read.
type healthStore interface {
	Ping(ctx context.Context) error
	CountLiveSessions(ctx context.Context, now time.Time) (int64, error)
}

// readyTimeout bounds the store ping of /readyz: a load balancer should
// hear "not ready" quickly, not wait for the store's own timeout.
const readyTimeout = time.Second

// healthRoutes adds the load balancer's probes. They carry no session and
// no rate limit.
func (s *Server) healthRoutes(r *gin.Engine) {
	r.GET("/healthz", s.handleHealthz)
	r.GET("/readyz", jsonAPI, s.handleReadyz)
}

// handleHealthz answers 200 while the process serves requests. It never
// touches the store, so a store outage does not get healthy instances
// restarted.
func (s *Server) handleHealthz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.String(http.StatusOK, "ok\n")
}

// handleReadyz answers 200 when the store answers a ping within
// readyTimeout, and 503 with a JSON error otherwise, so a load balancer
// sends no traffic to an instance that cannot reach the store.
func (s *Server) handleReadyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	c.Header("Cache-Control", "no-store")
	if s.draining.Load() {
		s.fail(c, failure(http.StatusServiceUnavailable, "Not ready: shutting down.", errDraining))
		return
	}
	if err := s.store.Ping(ctx); err != nil {
		s.fail(c, failure(http.StatusServiceUnavailable, "Not ready: the database is unreachable.", err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// Drain marks the instance as shutting down: /readyz answers 503 from now
// on, so a load balancer takes it out of rotation while in-flight and
// already-routed requests still complete.
func (s *Server) Drain() { s.draining.Store(true) }
