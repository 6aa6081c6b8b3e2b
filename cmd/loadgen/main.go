// Command loadgen measures the app on this machine: it runs the app, the
// embedded store and the dev Twitter provider in-process on loopback,
// signs users in through the real OAuth 2.0 login, then drives each
// endpoint with many connections for a fixed time and prints a table.
//
// In the same run it measures the floors the app is compared against: a
// bare net/http handler doing GET /db's store query without any
// authentication, a handler that only verifies the session JWT, and the
// store's raw FindOne by _id through the same driver and pool. The ratios
// are what to read; absolute numbers depend on the machine.
//
//	go run ./cmd/loadgen -users 100,1000,10000 -duration 5s -conns 64
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers"
	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type options struct {
	users      []int
	logins     int
	conns      int
	duration   time.Duration
	cacheTTL   string
	cpuProfile string
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	users := fs.String("users", "100,1000,10000", "comma-separated store sizes (users) to measure at")
	logins := fs.Int("logins", 200, "users signed in through the real login at each size; the rest are imported directly")
	conns := fs.Int("conns", 64, "concurrent connections")
	duration := fs.Duration("duration", 5*time.Second, "how long each scenario runs")
	cacheTTL := fs.String("session-cache-ttl", "5s", "SESSION_CACHE_TTL of the app under test (0s: no cache)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o := options{logins: *logins, conns: *conns, duration: *duration, cacheTTL: *cacheTTL, cpuProfile: *cpuProfile}
	for f := range strings.SplitSeq(*users, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-users: %q is not a positive number", f)
		}
		o.users = append(o.users, n)
	}
	if o.logins < 1 || o.conns < 1 || o.duration <= 0 {
		return o, errors.New("-logins, -conns and -duration must be positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(out, "loadgen: %d connections, %s per scenario, SESSION_CACHE_TTL=%s, GOMAXPROCS=%d\n\n",
		o.conns, o.duration, o.cacheTTL, runtime.GOMAXPROCS(0))
	for _, n := range o.users {
		if err := measure(ctx, o, n, out); err != nil {
			return fmt.Errorf("%d users: %w", n, err)
		}
	}
	return nil
}

// rig is one app instance with its store and provider.
type rig struct {
	dir      string
	db       *embedded.Server
	store    *models.Store
	provider *devtwitter.Provider
	app      *handlers.Server
	servers  []*http.Server
	appURL   string
	floorURL string
	provURL  string
	client   *http.Client
}

func (r *rig) close() {
	for _, s := range r.servers {
		s.Close()
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
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	r.servers = append(r.servers, srv)
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

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
	if r.store, err = models.Open(ctx, models.Options{URI: r.db.URI(), Database: "loadgen"}); err != nil {
		return r, err
	}

	// The app's address must be known for its config.
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	r.appURL = "http://" + appLn.Addr().String()
	if r.provider, err = devtwitter.New(devtwitter.Config{CallbackURLs: []string{r.appURL + "/auth/oauth2/callback"}}); err != nil {
		return r, err
	}
	if r.provURL, err = r.serve(r.provider); err != nil {
		return r, err
	}
	env := map[string]string{
		"PUBLIC_URL":             r.appURL,
		"SESSION_SECRET":         "loadgen-secret-0123456789abcdefghijklmnop",
		"SESSION_CACHE_TTL":      o.cacheTTL,
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
		return r, err
	}
	// The app's warnings and errors (a 5xx, say) go to stderr.
	appLog := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if r.app, err = handlers.New(handlers.Options{Config: cfg, Store: r.store, Logger: appLog}); err != nil {
		return r, err
	}
	appSrv := &http.Server{Handler: r.app.Handler(), ReadHeaderTimeout: 5 * time.Second}
	r.servers = append(r.servers, appSrv)
	go appSrv.Serve(appLn)

	// The floors, on their own port.
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
	if r.floorURL, err = r.serve(mux); err != nil {
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

// signedIn is a user with a live session.
type signedIn struct {
	id     bson.ObjectID
	cookie string
}

// login runs one full OAuth 2.0 login as Twitter user twitterID and
// returns the session cookie: app login start, provider consent
// (non-interactive), app callback (token exchange, users/me, upsert,
// session).
func (r *rig) login(ctx context.Context, twitterID string) (signedIn, error) {
	var s signedIn
	resp, err := r.get(ctx, r.appURL+"/auth/oauth2/login", nil)
	if err != nil {
		return s, err
	}
	var loginCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-login" {
			loginCookie = c
		}
	}
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loginCookie == nil {
		return s, fmt.Errorf("login start: status %d", resp.StatusCode)
	}
	q := authorize.Query()
	q.Set("auto", "approve")
	q.Set("user", twitterID)
	authorize.RawQuery = q.Encode()
	if resp, err = r.get(ctx, authorize.String(), nil); err != nil {
		return s, err
	}
	callback := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(callback, r.appURL) {
		return s, fmt.Errorf("consent: status %d", resp.StatusCode)
	}
	if resp, err = r.get(ctx, callback, loginCookie); err != nil {
		return s, err
	}
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-session" && c.Value != "" {
			s.cookie = c.Value
		}
	}
	if resp.StatusCode != http.StatusFound || s.cookie == "" {
		return s, fmt.Errorf("callback: status %d", resp.StatusCode)
	}
	return s, nil
}

func (r *rig) get(ctx context.Context, target string, ck *http.Cookie) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// measure prepares a store of n users and runs every scenario on it.
func measure(ctx context.Context, o options, n int, out io.Writer) error {
	r, err := newRig(ctx, o)
	if r != nil {
		defer r.close()
	}
	if err != nil {
		return err
	}
	logins := min(o.logins, n)
	// Users beyond those signed in are imported directly: signing 10,000
	// users in one by one would measure the login, not the steady state.
	if err := r.importUsers(ctx, n-logins); err != nil {
		return err
	}
	for i := range logins {
		id := strconv.Itoa(2_000_000 + i)
		r.provider.SetUser(devtwitter.User{ID: id, ScreenName: "load" + id, Name: "Load User " + id})
	}

	// Sign the users in through the real login.
	users := make([]signedIn, logins)
	var next atomic.Int64
	// A few at a time, with retries: a large embedded store cannot take 64
	// concurrent first logins within the store timeout, and this step
	// only prepares the measurement.
	signIn := drive(ctx, min(o.conns, 8), 0, func(ctx context.Context, _ int) error {
		i := int(next.Add(1)) - 1
		if i >= logins {
			return errDone
		}
		var err error
		for range 3 {
			if users[i], err = r.login(ctx, strconv.Itoa(2_000_000+i)); err == nil {
				break
			}
		}
		return err
	})
	for _, u := range users {
		if u.cookie == "" {
			return fmt.Errorf("a login failed (%d errors, first: %v)", signIn.errors, signIn.firstErr)
		}
	}
	for i := range users {
		me, err := r.me(ctx, users[i].cookie)
		if err != nil {
			return err
		}
		users[i].id = me
	}

	pick := func(w int) signedIn { return users[w%len(users)] }
	withCookie := func(method, target, body string) func(ctx context.Context, w int) error {
		return func(ctx context.Context, w int) error {
			u := pick(w)
			return r.expect(ctx, method, strings.ReplaceAll(target, "{owner}", u.id.Hex()), u.cookie, body)
		}
	}
	// Each user starts with a few records so GET /db has something to list.
	for _, u := range users {
		for range 3 {
			if err := r.expect(ctx, http.MethodPost, r.appURL+"/db", u.cookie, `{"text":"seed"}`); err != nil {
				return err
			}
		}
	}

	var results []result
	scenarios := []struct {
		name string
		fn   func(ctx context.Context, w int) error
	}{
		{"floor: JWT-only handler", withCookie(http.MethodGet, r.floorURL+"/jwt-only", "")},
		{"GET /me (signed in)", withCookie(http.MethodGet, r.appURL+"/me", "")},
		{"floor: FindOne by _id (no HTTP)", func(ctx context.Context, w int) error {
			_, err := r.store.UserByID(ctx, pick(w).id)
			return err
		}},
		{"floor: bare GET /db (no auth)", withCookie(http.MethodGet, r.floorURL+"/bare-db?owner={owner}", "")},
		{"GET /db (signed in)", withCookie(http.MethodGet, r.appURL+"/db", "")},
		{"GET / (signed in)", withCookie(http.MethodGet, r.appURL+"/", "")},
		{"POST /db (signed in)", withCookie(http.MethodPost, r.appURL+"/db", `{"text":"load"}`)},
		// Last, as it leaves the most writes behind: signed-in users sign in
		// again, the whole round trip, with the upsert of an existing user
		// and a new session each time.
		{"full OAuth 2.0 login", func(ctx context.Context, w int) error {
			i := int(next.Add(1)) % logins
			_, err := r.login(ctx, strconv.Itoa(2_000_000+i))
			return err
		}},
	}
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// A short unmeasured warm-up first: the table is about the steady
		// state (warm caches and pools), not the first second.
		drive(ctx, o.conns, o.duration/5, sc.fn)
		results = append(results, drive(ctx, o.conns, o.duration, sc.fn).named(sc.name))
	}
	printTable(out, n, logins, results)
	return nil
}

var errDone = errors.New("done")

// expect sends one request and wants a 2xx.
func (r *rig) expect(ctx context.Context, method, target, cookie, body string) error {
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.AddCookie(&http.Cookie{Name: "__Host-session", Value: cookie})
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d", method, req.URL.Path, resp.StatusCode)
	}
	return nil
}

// me returns the user id of a session.
func (r *rig) me(ctx context.Context, cookie string) (bson.ObjectID, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.appURL+"/me", nil)
	req.AddCookie(&http.Cookie{Name: "__Host-session", Value: cookie})
	resp, err := r.client.Do(req)
	if err != nil {
		return bson.ObjectID{}, err
	}
	defer resp.Body.Close()
	var me struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
		return bson.ObjectID{}, fmt.Errorf("GET /me: status %d: %w", resp.StatusCode, err)
	}
	return bson.ObjectIDFromHex(me.ID)
}

// importUsers adds n users straight into the store.
func (r *rig) importUsers(ctx context.Context, n int) error {
	const batch = 1000
	now := time.Now()
	for start := 0; start < n; start += batch {
		var users []models.User
		for i := start; i < min(n, start+batch); i++ {
			id := strconv.Itoa(1_000_000 + i)
			uid, err := models.UserIDFor(id)
			if err != nil {
				return err
			}
			users = append(users, models.User{
				ID: uid, TwitterID: id, Handle: "seed" + id, Name: "Seeded " + id, Roles: []string{},
				CreatedAt: now, UpdatedAt: now,
			})
		}
		if err := r.store.ImportUsers(ctx, users); err != nil {
			return err
		}
	}
	return nil
}

// result is what one scenario measured.
type result struct {
	name      string
	ops       int
	errors    int
	firstErr  error
	elapsed   time.Duration
	latencies []time.Duration
	cpu       time.Duration
}

func (r result) named(name string) result { r.name = name; return r }

// drive runs fn on conns workers until d has passed (or, with d == 0,
// until fn returns errDone), recording each call's latency. Calls still
// running when d ends finish normally (no deadline cuts them short) and
// are counted; throughput is over the time until the last one finished.
func drive(ctx context.Context, conns int, d time.Duration, fn func(ctx context.Context, worker int) error) result {
	var stop atomic.Bool
	if d > 0 {
		t := time.AfterFunc(d, func() { stop.Store(true) })
		defer t.Stop()
	}
	var (
		mu  sync.Mutex
		res result
		wg  sync.WaitGroup
	)
	cpu0 := cpuTime()
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			var first error
			for !stop.Load() && ctx.Err() == nil {
				t0 := time.Now()
				err := fn(ctx, w)
				if errors.Is(err, errDone) {
					break
				}
				// A call that was running when time ran out still counts:
				// its latency and any error are real.
				lat = append(lat, time.Since(t0))
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.cpu = cpuTime() - cpu0
	res.ops = len(res.latencies)
	slices.Sort(res.latencies)
	return res
}

func (r result) perSecond() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

func printTable(out io.Writer, users, logins int, results []result) {
	fmt.Fprintf(out, "== %d users in the store (%d signed in through the real login) ==\n", users, logins)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\treq/s\tp50\tp99\tp99.9\terrors\tCPU s\t")
	byName := map[string]result{}
	for _, r := range results {
		byName[r.name] = r
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%d\t%.1f\t\n", r.name, r.perSecond(),
			ms(r.quantile(0.50)), ms(r.quantile(0.99)), ms(r.quantile(0.999)), r.errors, r.cpu.Seconds())
	}
	tw.Flush()
	ratio := func(a, b string) string {
		x, y := byName[a], byName[b]
		if y.perSecond() == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", x.perSecond()/y.perSecond())
	}
	fmt.Fprintf(out, "GET /db vs bare GET /db: %s   GET /me vs JWT-only: %s   peak RSS %d MiB\n",
		ratio("GET /db (signed in)", "floor: bare GET /db (no auth)"),
		ratio("GET /me (signed in)", "floor: JWT-only handler"), peakRSS()>>20)
	for _, r := range results {
		if r.firstErr != nil {
			fmt.Fprintf(out, "first error in %q: %v\n", r.name, r.firstErr)
		}
	}
	fmt.Fprintln(out)
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + "ms"
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's peak resident set size in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}
