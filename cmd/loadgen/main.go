// Command loadgen measures the app on this machine under the load the
// product will meet: it runs the app, the embedded store (FerretDB on
// SQLite) and the dev Twitter provider in-process on loopback, fills the
// store to each size, signs users in through the real OAuth 2.0 login,
// gives each of them data, and then drives every scenario with many
// connections for a fixed time, each request as a random signed-in user.
//
//	go run ./cmd/loadgen -users 100,1000,10000,100000 -duration 10s \
//	    -csv loadgen.csv -chart loadgen.svg
//
// # Users at each size
//
// At every size up to -max-logins (default 10,000) every user signs in
// through the real login (login start, provider consent, callback with the
// token exchange, users/me, the user upsert and a new session). At larger
// sizes 1,000 users sign in (fewer if -max-logins is below 1,000) and the
// rest are imported straight into the store with [models.Store.ImportUsers]:
// at 100,000 users, 99,000 are imported and 1,000 sign in. -logins N signs
// in min(N, size) users at every size instead.
//
// Before the measurements each signed-in user is given 5 records (POST /db
// as that user, 5 requests) and has 1 session, 1 sign-in event and the
// user document its login wrote. Imported users have a user document only.
//
// # Scenarios
//
// Every request of every scenario is made as a user picked at random
// (math/rand/v2, a source per connection) from all signed-in users, so
// the whole working set is exercised, whatever the number of connections.
//
//   - floor: JWT-only: a bare net/http handler that only verifies the
//     session JWT ([handlers.Server.TokenOnlyHandler]).
//   - floor: FindOne by _id: the driver's FindOne on the users collection
//     by a user's _id, in-process, no HTTP.
//   - floor: bare GET /db: a bare net/http handler that runs GET /db's
//     store call ([models.Store.RecordsByOwner]), no authentication.
//   - GET /me, GET / and GET /db, signed in.
//   - POST /db, signed in: one new record (JSON).
//   - OAuth 2.0 login: the whole login of an existing user, each a new
//     session.
//
// Each scenario runs an unmeasured warm-up of a fifth of -duration, then
// -duration. Any response that is not 2xx or 3xx is an error; 503s are
// also counted on their own.
//
// # What is reported
//
// For each size and scenario: req/s, p50, p99 and p99.9 latency, errors,
// 503s, CPU seconds, the distinct users the scenario touched, and the
// store use per request, read from the app's metrics handler before and
// after the scenario:
//
//   - reads, writes and other: the store methods called, from the
//     histogram twitterlogin_store_call_duration_seconds, classified by
//     operation name (see [classify]; an unknown one is "other" and named
//     under the table). It sees only the methods the app's store wrapper
//     times. The floors bypass the app, so theirs are stated by
//     construction (0, 1 and 1 reads).
//   - read and write commands: what the driver really sent
//     (twitterlogin_store_commands_total by kind; one method may send
//     several), counted for the floors too.
//   - cache reads/s: the store reads the session cache made per second
//     (twitterlogin_session_cache_store_reads_total, or where the app has
//     no such counter its session_by_id and user_by_id calls).
//
// Per size also the process's peak RSS (VmHWM, reset per size through
// /proc/self/clear_refs) and its RSS -settle after the load stopped,
// without forcing a GC, to show whether memory returns by itself. Each
// size also prints how long importing, logins and seeding took, and how
// long the store's writes took to stop after them (the scenarios start
// then, so the first is not charged with the preparation's background
// writes).
//
// The ratios printed under each table (GET /me to JWT-only; GET /, GET /db
// and POST /db to FindOne; FindOne to FindOne at the smallest size) are
// what to read: absolute numbers depend on the machine. -csv writes one row
// per size and scenario (users, signed_in, scenario, req_per_s, p50_ms,
// p99_ms, errors, status_503, store_reads_per_req, store_writes_per_req,
// cache_store_reads_per_s, peak_rss_mib, rss_after_mib, distinct_users,
// store_read_cmds_per_req, store_write_cmds_per_req); -chart draws req/s
// against users (log-log), one line per scenario, the floors dashed, as SVG.
//
// Flags:
//
//	-users 100,1000,10000,100000  store sizes (users) to measure at
//	-logins 0             users signed in at each size; 0: the rule above
//	-max-logins 10000     largest size at which every user signs in
//	-conns 64             concurrent connections
//	-duration 5s          measured time per scenario
//	-settle 3s            wait after the load before reading RSS
//	-session-cache-ttl 5s SESSION_CACHE_TTL of the app (0s: no cache)
//	-csv FILE             write the results as CSV
//	-chart FILE.svg       draw req/s against users as SVG
//	-cpuprofile FILE      write a CPU profile of the whole run
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/twitterlogin/cmd/internal/serve"
)

func main() {
	serve.Main("loadgen", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stdout) })
}

// largeStoreLogins is how many users sign in at sizes above -max-logins.
const largeStoreLogins = 1000

type options struct {
	users      []int
	logins     int // 0: every user up to maxLogins, then largeStoreLogins
	maxLogins  int
	conns      int
	duration   time.Duration
	settle     time.Duration
	cacheTTL   time.Duration
	csvPath    string
	chartPath  string
	cpuProfile string
}

// signedIn is how many of n users sign in through the real login; the
// rest are imported.
func (o options) signedIn(n int) int {
	switch {
	case o.logins > 0:
		return min(o.logins, n)
	case n <= o.maxLogins:
		return n
	default:
		return min(largeStoreLogins, o.maxLogins, n)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	users := fs.String("users", "100,1000,10000,100000", "comma-separated store sizes (users) to measure at")
	logins := fs.Int("logins", 0, "users signed in through the real OAuth 2.0 login at each size, at most the size; "+
		"0: every user at sizes up to -max-logins, and 1000 at larger sizes, where the rest are imported into the store")
	maxLogins := fs.Int("max-logins", 10_000, "with -logins 0, the largest size at which every user signs in")
	conns := fs.Int("conns", 64, "concurrent connections")
	duration := fs.Duration("duration", 5*time.Second, "how long each scenario is measured (after a warm-up of a fifth of it)")
	settle := fs.Duration("settle", 3*time.Second, "how long after the load of a size to read the RSS again (no forced GC)")
	cacheTTL := fs.Duration("session-cache-ttl", 5*time.Second, "SESSION_CACHE_TTL of the app under test (0s: no cache)")
	csvPath := fs.String("csv", "", "write one CSV row per size and scenario to this file")
	chartPath := fs.String("chart", "", "draw req/s against users as SVG to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o := options{
		logins: *logins, maxLogins: *maxLogins, conns: *conns, duration: *duration, settle: *settle,
		cacheTTL: *cacheTTL, csvPath: *csvPath, chartPath: *chartPath, cpuProfile: *cpuProfile,
	}
	var errs []error
	for f := range strings.SplitSeq(*users, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("-users must list positive numbers, but has %q", f))
			continue
		}
		o.users = append(o.users, n)
	}
	slices.Sort(o.users)
	o.users = slices.Compact(o.users)
	if o.logins < 0 {
		errs = append(errs, fmt.Errorf("-logins must be 0 or positive, but is %d", o.logins))
	}
	if o.maxLogins < 1 {
		errs = append(errs, fmt.Errorf("-max-logins must be positive, but is %d", o.maxLogins))
	}
	if o.conns < 1 {
		errs = append(errs, fmt.Errorf("-conns must be positive, but is %d", o.conns))
	}
	if o.duration <= 0 {
		errs = append(errs, fmt.Errorf("-duration must be positive, but is %s", o.duration))
	}
	if o.settle < 0 {
		errs = append(errs, fmt.Errorf("-settle must not be negative, but is %s", o.settle))
	}
	return o, errors.Join(errs...)
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
	var rows []row
	for _, n := range o.users {
		got, err := measure(ctx, o, n, out)
		if err != nil {
			return fmt.Errorf("%d users: %w", n, err)
		}
		rows = append(rows, got...)
		printSize(out, got, rows)
	}
	printScaling(out, rows)
	if o.csvPath != "" {
		if err := writeCSVFile(o.csvPath, rows); err != nil {
			return err
		}
	}
	if o.chartPath != "" {
		if err := writeChart(o.chartPath, rows); err != nil {
			return err
		}
	}
	return nil
}
