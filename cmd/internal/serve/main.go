package serve

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Main is every program's main: run gets a context that SIGINT or SIGTERM
// cancels, so that the program shuts down gracefully; when run fails, Main
// prints "name: err" to stderr and exits with status 1.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		stop() // os.Exit skips the deferred call
		os.Exit(1)
	}
}
