// Command devtwitter runs the development Twitter provider (a local fake
// X, see package handlers/devtwitter) on a loopback address, so the app can
// be signed in to without Twitter keys or internet access.
//
// Usage:
//
//	devtwitter -callback http://127.0.0.1:8080/auth/twitter/callback [-addr 127.0.0.1:8081]
//
// Callbacks can also come from DEV_TWITTER_CALLBACKS (comma-separated).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"example.com/twitterlogin/cmd/internal/serve"
	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
)

func main() {
	serve.Main("devtwitter", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Getenv, os.Stdout) })
}

// options are the validated command-line settings.
type options struct {
	addr        string
	allowRemote bool
	callbacks   []string
	accessTTL   time.Duration
}

// callbackList is a repeatable -callback flag.
type callbackList []string

func (c *callbackList) String() string { return strings.Join(*c, ",") }

func (c *callbackList) Set(v string) error {
	*c = append(*c, v)
	return nil
}

// parseOptions reads the flags, with the callbacks from config when no
// -callback is given, and returns every problem at once.
func parseOptions(args []string, getenv func(string) string, out io.Writer) (options, error) {
	var o options
	var callbacks callbackList
	fs := flag.NewFlagSet("devtwitter", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "listen address (loopback only unless -allow-remote)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a non-loopback listen address (never do this on a shared network)")
	fs.DurationVar(&o.accessTTL, "access-token-lifetime", 0, "OAuth 2.0 access token lifetime (default X's 2h; e.g. 1m to watch an app refresh)")
	fs.Var(&callbacks, "callback", "registered callback URL, exact match (repeatable; or DEV_TWITTER_CALLBACKS, comma-separated)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var problems []error
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	o.callbacks = callbacks
	if len(o.callbacks) == 0 {
		o.callbacks = config.LoadDevTwitter(getenv).Callbacks
	}
	if len(o.callbacks) == 0 {
		problems = append(problems, errors.New("-callback is required (or DEV_TWITTER_CALLBACKS), e.g. -callback http://127.0.0.1:8080/auth/twitter/callback"))
	}
	if err := serve.CheckAddr(o.addr, o.allowRemote); err != nil {
		problems = append(problems, err)
	}
	return o, errors.Join(problems...)
}

// run starts the provider and serves until ctx ends, then shuts down
// gracefully. It returns an error for bad flags or when serving fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseOptions(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))
	p, err := devtwitter.New(devtwitter.Config{CallbackURLs: o.callbacks, Logger: logger, AccessTokenLifetime: o.accessTTL})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, `Development Twitter provider — not the real Twitter
  base URL            %s   (TWITTER_API_BASE and TWITTER_AUTHORIZE_BASE)
  consumer key        %s
  consumer secret     %s
  client id           %s
  client secret       %s
  callbacks           %s
`, base, devtwitter.DevConsumerKey, devtwitter.DevConsumerSecret, devtwitter.DevClientID, devtwitter.DevClientSecret, strings.Join(o.callbacks, " "))

	srv := serve.NewServer(p, serve.Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      60 * time.Second, // room for injected delays
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}, logger)
	logger.Info("devtwitter: listening", "addr", ln.Addr().String())
	return serve.Serve(ctx, srv, ln, logger)
}
