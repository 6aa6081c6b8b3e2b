// Command server runs the "Sign in with Twitter" web app.
//
// With -dev and no other settings it needs nothing else: it runs an
// embedded MongoDB-compatible store under DATA_DIR and an in-process
// development Twitter provider, and serves http://localhost:8080.
// Every setting is an environment variable; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/twitterlogin/cmd/internal/serve"
	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers"
	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/handlers/tokenkeys"
	"example.com/twitterlogin/models"
)

func main() {
	serve.Main("server", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr) })
}

// shutdownTimeout is how long in-flight requests get to finish on SIGTERM.
const shutdownTimeout = 15 * time.Second

// janitorInterval is how often expired sessions are deleted (and their
// expiry recorded in the user's activity). Lookups check expiry
// themselves, so this bounds only how late the event is.
const janitorInterval = time.Minute

// run is the whole program, with its environment passed in so tests can run
// it in-process. It returns when ctx is cancelled and the server has shut
// down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if opts.check {
		return checkConfig(ctx, getenv, opts.dev, stdout)
	}
	l, err := loadConfig(getenv, opts, stderr)
	if err != nil {
		return err
	}
	cfg, log, signingKeys := l.cfg, l.log, l.keys
	if l.devProvider != nil {
		defer l.devProvider.Close() // when run returns before serving on it
	}
	if opts.reencrypt {
		return reencryptTokens(ctx, cfg, log, stdout)
	}
	if opts.deleteUser != "" {
		return deleteUser(ctx, cfg, log, stdout, opts.deleteUser)
	}
	gin.SetMode(gin.ReleaseMode)

	// Listen first: a port conflict should fail before anything else starts.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()

	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	var commands models.CommandCounter
	store, closeStore, err := openStore(ctx, cfg, log, &commands)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, closeStore)

	errc := make(chan error, 2)
	stopProvider, err := startDevProvider(cfg, l.devProvider, log, errc)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopProvider)

	app, err := handlers.New(handlers.Options{Config: cfg, Store: store, Logger: log, TokenKeys: signingKeys, StoreCommands: &commands})
	if err != nil {
		return err
	}
	srv, stopMetrics, err := serveApp(ctx, cfg, log, app, ln, errc)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopMetrics)
	go janitor(ctx, store, log)
	go app.WatchStore(ctx)

	log.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL.String(),
		"flows", cfg.Flows, "dev_provider", cfg.DevProvider, "embedded_store", cfg.MongoURI == "")
	fmt.Fprintf(stdout, "Open %s and sign in.\n", cfg.PublicURL)

	return awaitShutdown(ctx, cfg, log, app, srv, errc)
}

// options are the command-line flags; every other setting is an
// environment variable.
type options struct {
	dev, rotate, reencrypt, check, allowRemote bool
	// deleteUser is a Twitter id or @handle whose account to delete.
	deleteUser string
}

// parseFlags parses the command line, printing usage and errors to stderr.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opts options
	flags := flag.NewFlagSet("server", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.BoolVar(&opts.dev, "dev", false, "development mode: embedded store, dev Twitter provider when no keys are set, loopback-only defaults")
	flags.BoolVar(&opts.rotate, "rotate-token-key", false, "dev mode: make a new service-token signing key in DATA_DIR before starting; the old one stays published until its tokens have expired")
	flags.BoolVar(&opts.reencrypt, "reencrypt-tokens", false, "re-encrypt every stored Twitter token under the first of TOKEN_ENCRYPTION_KEYS, print how many, and exit (run after adding a new key; then remove the old one)")
	flags.StringVar(&opts.deleteUser, "delete-user", "", "delete the account of this Twitter id or @handle, as its \"Delete my account\" button does (data, sessions, service tokens; the Twitter credential goes to the revocation outbox), print what was removed, and exit")
	flags.BoolVar(&opts.allowRemote, "allow-remote", false, "dev mode: listen on a non-loopback ADDR or DEV_PROVIDER_ADDR anyway, serving the dev provider and generated secrets to the network")
	flags.BoolVar(&opts.check, "check", false, "check the configuration (secrets, URLs, store and indexes, Twitter keys), print one line per check and exit non-zero on any failure")
	if err := flags.Parse(args); err != nil {
		return options{}, err
	}
	if flags.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %q", flags.Args())
	}
	return opts, nil
}

// loaded is the configuration and what comes with it.
type loaded struct {
	cfg  *config.Config
	log  *slog.Logger
	keys *tokenkeys.Set
	// devProvider is the dev provider's listener, bound before the
	// configuration is loaded so that it can name its port; nil unless
	// the dev provider runs.
	devProvider net.Listener
}

// loadConfig loads the configuration, makes the logger, and loads the
// service-token signing keys. Bad signing keys refuse to start, like any
// other bad setting.
func loadConfig(getenv func(string) string, opts options, stderr io.Writer) (_ *loaded, err error) {
	devLn, err := bindDevProvider(getenv, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && devLn != nil {
			devLn.Close()
		}
	}()
	var loadOpts []config.LoadOption
	if devLn != nil {
		loadOpts = append(loadOpts, config.WithDevProvider("http://"+devLn.Addr().String()))
	}
	cfg, err := config.Load(getenv, opts.dev, loadOpts...)
	if err != nil {
		return nil, err
	}
	if !cfg.DevProvider && devLn != nil {
		devLn.Close() // Twitter keys are set: no dev provider
		devLn = nil
	}
	if err := checkDevListeners(cfg, opts); err != nil {
		return nil, err
	}
	l := &loaded{cfg: cfg, log: newLogger(stderr, cfg), devProvider: devLn}
	if remote := cfg.RemoteDevListeners(); len(remote) > 0 {
		l.log.Warn("dev mode reachable from the network (-allow-remote)", "listeners", remote)
	}
	if l.keys, err = loadTokenKeys(cfg, opts.rotate, time.Now(), l.log); err != nil {
		return nil, err
	}
	if cfg.GeneratedSessionSecret {
		l.log.Warn("using the development session secret kept in DATA_DIR; set SESSION_SECRET in production")
	}
	return l, nil
}

// bindDevProvider binds the dev provider's listener in dev mode, where it
// runs when no Twitter keys are set. A non-loopback address is left to
// [checkDevListeners] to refuse, unless -allow-remote.
func bindDevProvider(getenv func(string) string, opts options) (net.Listener, error) {
	if !config.IsDev(getenv, opts.dev) {
		return nil, nil
	}
	addr := config.DevProviderAddr(getenv)
	if host, _, err := net.SplitHostPort(addr); err != nil || (!config.IsLoopback(host) && !opts.allowRemote) {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dev provider: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// checkDevListeners refuses dev mode on a non-loopback address unless
// -allow-remote.
func checkDevListeners(cfg *config.Config, opts options) error {
	if remote := cfg.RemoteDevListeners(); len(remote) > 0 && !opts.allowRemote {
		return fmt.Errorf("dev mode listens on loopback only, but %s: use a loopback host (localhost:8080), or pass -allow-remote to serve the dev provider and generated secrets to your network",
			strings.Join(remote, " and "))
	}
	return nil
}

// serveApp serves metrics (see serveMetrics) and then app on ln; Serve's
// error goes to errc. stopMetrics stops the metrics listener.
func serveApp(ctx context.Context, cfg *config.Config, log *slog.Logger, app *handlers.Server, ln net.Listener, errc chan<- error) (srv *http.Server, stopMetrics func(), err error) {
	stopMetrics, err = serveMetrics(ctx, cfg, app, log)
	if err != nil {
		return nil, nil, err
	}
	srv = serve.NewServer(app.Handler(), serve.Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}, log)
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	// awaitShutdown shuts srv down itself: the app closes in between.
	serve.Start(srv, ln, func(err error) { errc <- err })
	return srv, stopMetrics, nil
}

// awaitShutdown waits for ctx to end (SIGINT or SIGTERM) or for a server to
// fail, then drains and shuts down srv and app.
func awaitShutdown(ctx context.Context, cfg *config.Config, log *slog.Logger, app *handlers.Server, srv *http.Server, errc <-chan error) error {
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Drain first: /readyz fails and responses say "Connection: close", so
	// the load balancer and clients move on before the listener closes,
	// and no request races a connection being closed as idle.
	log.Info("shutting down", "drain", cfg.ShutdownDrain.String())
	app.Drain()
	srv.SetKeepAlivesEnabled(false)
	time.Sleep(cfg.ShutdownDrain)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	// No logout can queue a Twitter revocation now; the queued ones get
	// the rest of the shutdown time, while the store is still open.
	if err := app.Close(sctx); err != nil {
		log.Warn("shutdown", "err", err.Error())
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	return nil
}

func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Dev {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// startDevProvider serves the development Twitter provider on ln (bound
// by loadConfig, whose configuration already points at it), when
// cfg.DevProvider is set. stop stops the provider (if any).
func startDevProvider(cfg *config.Config, ln net.Listener, log *slog.Logger, errc chan<- error) (stop func(), err error) {
	if !cfg.DevProvider || ln == nil {
		return func() {}, nil
	}
	provider, err := devtwitter.New(devtwitter.Config{
		CallbackURLs: []string{cfg.CallbackURL(config.OAuth2), cfg.CallbackURL(config.OAuth1)},
		Logger:       log.With("component", "devtwitter"),
	})
	if err != nil {
		return nil, fmt.Errorf("dev provider: %w", err)
	}
	base := "http://" + ln.Addr().String()

	srv := serve.NewServer(provider, serve.Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
	}, log)
	stop = serve.Start(srv, ln, func(err error) { errc <- fmt.Errorf("dev provider: %w", err) })
	log.Warn("using the development Twitter provider: no real Twitter account is involved", "url", base)
	return stop, nil
}

// janitor deletes expired sessions now and then until ctx ends.
func janitor(ctx context.Context, store *models.Store, log *slog.Logger) {
	t := time.NewTicker(janitorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			n, err := store.DeleteExpiredSessions(sctx, now)
			cancel()
			if err != nil {
				log.Warn("delete expired sessions", "err", err.Error())
			} else if n > 0 {
				log.Info("deleted expired sessions", "count", n)
			}
		}
	}
}

// loadKeyFiles loads TOKEN_KEY_FILES and, with TOKEN_ROOT_FILE, checks
// that every key's chain leads to one of its certificates.
func loadKeyFiles(cfg *config.Config, now time.Time) (*tokenkeys.Set, error) {
	keys, err := tokenkeys.Load(cfg.Tokens.Keys, now)
	if err != nil {
		return nil, fmt.Errorf("load token signing keys: %w", err)
	}
	if cfg.Tokens.RootFile != "" {
		roots, err := tokenkeys.LoadRoots(cfg.Tokens.RootFile)
		if err == nil {
			err = keys.VerifyChains(roots, now)
		}
		if err != nil {
			return nil, fmt.Errorf("TOKEN_ROOT_FILE: %w", err)
		}
	}
	return keys, nil
}

// loadTokenKeys returns the service-token signing keys: the configured
// files, or in dev mode the keys kept in DATA_DIR (generated on first
// start, and rotated first when rotate is set). Outside dev mode without
// key files, service tokens are off and it returns nil.
func loadTokenKeys(cfg *config.Config, rotate bool, now time.Time, log *slog.Logger) (*tokenkeys.Set, error) {
	switch {
	case rotate && !cfg.Dev:
		return nil, errors.New("-rotate-token-key is for dev mode; in production add the new key and certificate to TOKEN_KEY_FILES and TOKEN_CERT_FILES")
	case rotate && len(cfg.Tokens.Keys) > 0:
		return nil, errors.New("-rotate-token-key rotates the generated dev key, but TOKEN_KEY_FILES is set")
	case len(cfg.Tokens.Keys) > 0:
		return loadKeyFiles(cfg, now)
	case !cfg.Dev:
		log.Info("service tokens are off: set TOKEN_KEY_FILES and TOKEN_CERT_FILES to turn them on")
		return nil, nil
	}
	if rotate {
		k, err := tokenkeys.RotateDev(cfg.DataDir, now)
		if err != nil {
			return nil, err
		}
		log.Info("rotated the development token signing key", "kid", k.KID)
	}
	// A replaced key stays published while any token it signed may live.
	keys, err := tokenkeys.LoadDev(cfg.DataDir, now, config.MaxTokenLifetime+bearer.MaxLeeway)
	if err != nil {
		return nil, err
	}
	signing, err := keys.Signing(now)
	if err != nil {
		return nil, err
	}
	log.Warn("using the development token signing key kept in DATA_DIR; set TOKEN_KEY_FILES and TOKEN_CERT_FILES in production",
		"kid", signing.KID, "alg", signing.Alg, "published_keys", len(keys.Keys()))
	return keys, nil
}
