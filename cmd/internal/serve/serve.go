// Package serve runs the small side programs' HTTP servers (the dev
// Twitter provider, the demo image service): listen-address checks and
// serving until the program is told to stop.
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

// ShutdownTimeout is how long in-flight requests get once ctx ends.
const ShutdownTimeout = 5 * time.Second

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
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
