// Package serve builds and runs every program's HTTP servers (the app,
// its metrics listener, the dev Twitter provider, the demo image service
// and the load generator's rig): the servers' limits, listen-address
// checks, serving in the background and graceful shutdown, and the main
// that cancels on SIGINT or SIGTERM.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"example.com/twitterlogin/config"
)

// ShutdownTimeout is how long in-flight requests get once ctx ends in
// [Serve], and in a stop function returned by [Start].
const ShutdownTimeout = 5 * time.Second

// Limits are an HTTP server's timeouts and header size limit. A zero
// field leaves net/http's default (no limit for the timeouts).
type Limits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
}

// NewServer returns a server for h with lim's limits. With a non-nil log,
// the server's own errors (TLS handshakes, panics, bad requests it cannot
// answer) go to log at warn level; with nil, to the standard logger.
func NewServer(h http.Handler, lim Limits, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}

// CheckAddr checks a -addr flag: host:port, and a loopback host unless
// allowRemote, since these programs are for one developer's machine.
func CheckAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
		return fmt.Errorf("-addr %q: %w", addr, err)
	case !allowRemote && !config.IsLoopback(host):
		return fmt.Errorf("-addr must be a loopback address (127.0.0.1, ::1 or localhost), but is %q; pass -allow-remote to override", addr)
	}
	return nil
}

// Start serves srv on ln in the background. If serving fails (for any
// reason but a shutdown), onErr, when not nil, gets the error. stop shuts
// srv down gracefully, waiting at most [ShutdownTimeout]; a program with
// its own shutdown sequence may ignore stop and call [Shutdown].
func Start(srv *http.Server, ln net.Listener, onErr func(error)) (stop func()) {
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) && onErr != nil {
			onErr(err)
		}
	}()
	return func() { _ = Shutdown(srv, ShutdownTimeout) }
}

// Shutdown shuts srv down gracefully, giving in-flight requests at most
// timeout to finish.
func Shutdown(srv *http.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Serve serves srv on ln until ctx ends, then shuts it down gracefully.
// It returns an error if serving fails or the shutdown does not finish
// within ShutdownTimeout.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	return Shutdown(srv, ShutdownTimeout)
}
