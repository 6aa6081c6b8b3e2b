package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	mongooptions "go.mongodb.org/mongo-driver/v2/mongo/options"

	"example.com/twitterlogin/cmd/internal/serve"
	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers"
	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
)

// database is the store's database name under test.
const database = "loadgen"

// rig is one app instance with its store and provider, all on loopback.
type rig struct {
	dir   string
	db    *embedded.Server
	store *models.Store
	// commands counts what the store's driver (and raw's) really sends;
	// the app exports it as twitterlogin_store_commands_total.
	commands models.CommandCounter
	raw      *mongo.Client     // the driver without the app, for the FindOne floor
	users    *mongo.Collection // the app's users collection, through raw
	provider *devtwitter.Provider
	app      *handlers.Server
	servers  []*http.Server
	appURL   string
	floorURL string
	provURL  string
	// metricsURL serves the app's Prometheus metrics, as METRICS_ADDR does.
	metricsURL string
	client     *http.Client
	// stopWatch ends the app's WatchStore (the change-feed poller that
	// lets the session cache trust its entries, as cmd/server runs it).
	stopWatch context.CancelFunc
}

func (r *rig) close() {
	for _, s := range r.servers {
		s.Close()
	}
	if r.stopWatch != nil {
		r.stopWatch()
	}
	if r.app != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r.app.Close(ctx)
		cancel()
	}
	if r.raw != nil {
		r.raw.Disconnect(context.Background())
	}
	if r.store != nil {
		r.store.Close(context.Background())
	}
	if r.db != nil {
		r.db.Close()
	}
	os.RemoveAll(r.dir)
}

// serve starts h on a fresh loopback port.
func (r *rig) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	return r.serveOn(ln, h), nil
}

func (r *rig) serveOn(ln net.Listener, h http.Handler) string {
	srv := serve.NewServer(h, serve.Limits{ReadHeaderTimeout: 5 * time.Second}, nil)
	r.servers = append(r.servers, srv)
	serve.Start(srv, ln, nil) // close closes the servers at once
	return "http://" + ln.Addr().String()
}

// newRig starts the store, the provider, the app and the floors. On error
// the returned rig (if any) holds what was started, for close.
func newRig(ctx context.Context, o options) (*rig, error) {
	r := &rig{}
	var err error
	if r.dir, err = os.MkdirTemp("", "loadgen-"); err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	if r.db, err = embedded.Start(ctx, embedded.Options{Dir: r.dir, Logger: quiet}); err != nil {
		return r, err
	}
	// The store caches digests as long as the app trusts cached sessions.
	if r.store, err = models.Open(ctx, models.Options{URI: r.db.URI(), Database: database, Monitor: r.commands.Monitor(),
		MaxConcurrentWrites: embedded.MaxConcurrentWrites, CacheTTL: o.cacheTTL}); err != nil {
		return r, err
	}
	if r.raw, err = mongo.Connect(mongooptions.Client().ApplyURI(r.db.URI()).SetMonitor(r.commands.Monitor())); err != nil {
		return r, err
	}
	r.users = r.raw.Database(database).Collection("users")
	if err := r.startApp(o); err != nil {
		return r, err
	}
	if r.floorURL, err = r.serve(r.floors()); err != nil {
		return r, err
	}
	if r.metricsURL, err = r.serve(r.app.MetricsHandler()); err != nil {
		return r, err
	}
	r.client = &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			MaxIdleConns:        4 * o.conns,
			MaxIdleConnsPerHost: 2 * o.conns,
			IdleConnTimeout:     time.Minute,
		},
	}
	return r, nil
}

// startApp starts the dev provider and the app configured against it.
func (r *rig) startApp(o options) error {
	// The app's address must be known for its config.
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r.appURL = "http://" + appLn.Addr().String()
	if r.provider, err = devtwitter.New(devtwitter.Config{CallbackURLs: []string{r.appURL + "/auth/oauth2/callback"}}); err != nil {
		appLn.Close()
		return err
	}
	if r.provURL, err = r.serve(r.provider); err != nil {
		appLn.Close()
		return err
	}
	env := map[string]string{
		"PUBLIC_URL":             r.appURL,
		"DATA_DIR":               r.dir, // dev mode keeps its generated secrets there
		"SESSION_SECRET":         "loadgen-secret-0123456789abcdefghijklmnop",
		"SESSION_CACHE_TTL":      o.cacheTTL.String(),
		"TWITTER_API_BASE":       r.provURL,
		"TWITTER_AUTHORIZE_BASE": r.provURL,
		"TWITTER_CLIENT_ID":      devtwitter.DevClientID,
		"TWITTER_CLIENT_SECRET":  devtwitter.DevClientSecret,
		// Every simulated client shares 127.0.0.1: measure the app, not
		// its rate limits.
		"RATE_LIMIT_LOGIN":  "off",
		"RATE_LIMIT_WRITES": "off",
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, true)
	if err != nil {
		appLn.Close()
		return err
	}
	// The app's warnings and errors (a 5xx, say) go to stderr.
	appLog := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if r.app, err = handlers.New(handlers.Options{Config: cfg, Store: r.store, Logger: appLog, StoreCommands: &r.commands}); err != nil {
		appLn.Close()
		return err
	}
	var watch context.Context
	watch, r.stopWatch = context.WithCancel(context.Background())
	go r.app.WatchStore(watch)
	r.serveOn(appLn, r.app.Handler())
	return nil
}

// floors are the bare handlers the app is compared against.
func (r *rig) floors() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /jwt-only", r.app.TokenOnlyHandler())
	mux.HandleFunc("GET /bare-db", func(w http.ResponseWriter, req *http.Request) {
		owner, err := bson.ObjectIDFromHex(req.URL.Query().Get("owner"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		recs, err := r.store.RecordsByOwner(req.Context(), owner, 100)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"records": recs})
	})
	return mux
}

// findOne is the FindOne floor: the driver's FindOne on the users
// collection by _id, the document left undecoded.
func (r *rig) findOne(ctx context.Context, id bson.ObjectID) error {
	_, err := r.users.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	return err
}
