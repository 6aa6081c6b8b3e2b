package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"example.com/twitterlogin/config"
)

// Login outcomes, the values of the outcome label of logins_total.
const (
	loginSuccess       = "success"
	loginCancelled     = "cancelled"
	loginRefused       = "refused"        // a bad, replayed or rate-limited callback (4xx)
	loginProviderError = "provider_error" // Twitter failed or timed out (502, 504)
	loginStoreError    = "store_error"    // the store failed (503, other 5xx)
)

// metrics are the Prometheus metrics of one Server, in a registry of its
// own: nothing is registered globally, so several Servers (tests run two)
// can live in one process.
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	logins         *prometheus.CounterVec
	storeCalls     *prometheus.HistogramVec
	activeSessions prometheus.Gauge
	rateLimited    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twitterlogin_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "twitterlogin_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twitterlogin_logins_total",
			Help: "Completed login callbacks by flow and outcome (success, cancelled, refused, provider_error, store_error).",
		}, []string{"flow", "outcome"}),
		storeCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "twitterlogin_store_call_duration_seconds",
			Help:    "Store call latency by operation and outcome (ok, not_found, unavailable, error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation", "outcome"}),
		activeSessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "twitterlogin_active_sessions",
			Help: "Sessions not yet expired, counted in the store now and then (see RefreshActiveSessions).",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twitterlogin_rate_limited_total",
			Help: "Requests refused with 429 by limit (login, writes).",
		}, []string{"limit"}),
	}
	m.reg.MustRegister(
		m.requests, m.duration, m.logins, m.storeCalls, m.activeSessions, m.rateLimited,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Every login outcome is exported from the start, so rate() works
	// before the first failure.
	for _, f := range []config.Flow{config.OAuth1, config.OAuth2} {
		for _, o := range []string{loginSuccess, loginCancelled, loginRefused, loginProviderError, loginStoreError} {
			m.logins.WithLabelValues(string(f), o)
		}
	}
	return m
}

// MetricsHandler serves the Server's metrics in the Prometheus text
// format. Serve it on a listener of its own (METRICS_ADDR), never on the
// public one: it is not part of the routes.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// observe counts every request by its route pattern (never the raw path,
// which would let clients mint label values) and its status.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	s.countRequest(route, c.Request.Method, c.Writer.Status(), time.Since(start))
}

// countRequest records one request, for the metrics and for the
// idle-memory watcher; methods outside the standard ones are "other", so
// clients cannot mint label values.
func (s *Server) countRequest(route, method string, status int, d time.Duration) {
	s.requests.Add(1)
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	s.metrics.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// countLogin counts the outcome of a login callback from its response.
// It runs outside the rate limit, so a limited callback counts as refused.
func (s *Server) countLogin(flow config.Flow) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		var err error
		if last := c.Errors.Last(); last != nil {
			err = last.Err // what s.fail answered
		}
		s.metrics.logins.WithLabelValues(string(flow), loginOutcome(c.Writer.Status(), c.Writer.Header().Get("Location"), err)).Inc()
	}
}

// loginOutcome classifies a callback's response: success and cancel are
// redirects home; a failure is the provider's when Twitter failed (whatever
// status that gave), else classified by s.fail's status.
func loginOutcome(status int, location string, err error) string {
	var pe *providerError
	switch {
	case status < 400 && strings.Contains(location, "notice=cancelled"):
		return loginCancelled
	case status < 400:
		return loginSuccess
	case errors.As(err, &pe), status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		return loginProviderError
	case status < 500:
		return loginRefused
	default:
		return loginStoreError
	}
}

// activeSessionsTimeout bounds one count of the live sessions.
const activeSessionsTimeout = 10 * time.Second

// RefreshActiveSessions sets the active-sessions gauge from the store now
// and then every interval, until ctx ends. Run it in a goroutine where
// metrics are served; a failed count keeps the last value and is logged.
func (s *Server) RefreshActiveSessions(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.refreshActiveSessions(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) refreshActiveSessions(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, activeSessionsTimeout)
	defer cancel()
	n, err := s.store.CountLiveSessions(cctx, s.now())
	switch {
	case ctx.Err() != nil: // shutting down
	case err != nil:
		s.log.Warn("count active sessions", "err", err.Error())
	default:
		s.metrics.activeSessions.Set(float64(n))
	}
}
