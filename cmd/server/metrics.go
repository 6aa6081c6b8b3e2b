package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"example.com/twitterlogin/cmd/internal/serve"
	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers"
)

// activeSessionsInterval is how often the active-sessions gauge is
// recounted: a full scan of the sessions on stores without indexes.
const activeSessionsInterval = 30 * time.Second

// serveMetrics serves /metrics on METRICS_ADDR, a listener of its own that
// the public never reaches through the proxy, and keeps the active-sessions
// gauge fresh. With METRICS_ADDR unset it does nothing. Outside dev mode a
// listener that cannot be opened is fatal; in dev mode (default
// 127.0.0.1:9090, which a second local instance may already hold) it is a
// warning.
func serveMetrics(ctx context.Context, cfg *config.Config, app *handlers.Server, log *slog.Logger) (stop func(), err error) {
	if cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		if cfg.Dev {
			log.Warn("metrics are not served", "addr", cfg.MetricsAddr, "err", err.Error())
			return func() {}, nil
		}
		return nil, fmt.Errorf("listen for metrics on %s: %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", app.MetricsHandler())
	srv := serve.NewServer(mux, serve.Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}, log)
	stopServer := serve.Start(srv, ln, func(err error) { log.Error("metrics listener stopped", "err", err.Error()) })
	rctx, cancel := context.WithCancel(ctx)
	go app.RefreshActiveSessions(rctx, activeSessionsInterval)
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		cancel()
		stopServer()
	}, nil
}
