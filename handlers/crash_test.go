package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/models"
)

// appProcessEnv tells a test binary to run as an app process: its value
// is an appSpec in JSON.
const appProcessEnv = "TWITTERLOGIN_TEST_APP_PROCESS"

// appSpec is what an app process needs: its environment, the store, and
// where to listen.
type appSpec struct {
	Env      map[string]string
	StoreURI string
	Database string
	Addr     string
}

// quickRevocations are revocation settings for tests that wait for
// retries and lapsed leases: milliseconds and seconds, not minutes.
func quickRevocations() *revokeSettings {
	set := defaultRevokeSettings()
	set.attempts = 2
	set.attemptTimeout = time.Second
	set.backoff = 20 * time.Millisecond
	set.lease = 2 * time.Second
	set.retryAfter, set.retryCap = 100*time.Millisecond, 200*time.Millisecond
	set.rounds = 1000
	set.scanEvery = 100 * time.Millisecond
	return &set
}

// runAppProcess serves the app as spec says until the process is killed.
func runAppProcess(spec string) int {
	var sp appSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	cfg, err := config.Load(func(k string) string { return sp.Env[k] }, true)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	ctx := context.Background()
	store, err := models.Open(ctx, models.Options{URI: sp.StoreURI, Database: sp.Database, Timeout: 2 * time.Second})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	srv, err := New(Options{Config: cfg, Store: store, Logger: slog.New(slog.DiscardHandler), revoke: quickRevocations()})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	ln, err := net.Listen("tcp", sp.Addr)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("READY")
	err = http.Serve(ln, srv.Handler())
	fmt.Println("ERROR", err)
	return 1
}

// startAppProcess starts the app in a child process and returns it once
// it listens; killing it is the caller's (and the cleanup's) business.
func startAppProcess(t *testing.T, sp appSpec) *exec.Cmd {
	t.Helper()
	spec, _ := json.Marshal(sp)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), appProcessEnv+"="+string(spec))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "READY\n" {
		t.Fatalf("app process: %q %v", line, err)
	}
	return cmd
}

// freeAddr returns a loopback address nothing listens on just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// crashRig is the store and the dev provider, each outliving the app
// processes of TestRevocations_SurviveAppCrash.
type crashRig struct {
	proc  *storeProcess
	store *models.Store
	rec   *revokeRecorder
	h     *harness // the provider and the app's URL, for browsers
	spec  appSpec
}

func newCrashRig(t *testing.T) *crashRig {
	rig := &crashRig{proc: startStoreProcess(t, t.TempDir(), "127.0.0.1:0")}
	provider, err := devtwitter.New(devtwitter.Config{CallbackURLs: []string{"http://unused.invalid/"}})
	if err != nil {
		t.Fatal(err)
	}
	rig.rec = newRevokeRecorder(provider)
	provSrv := httptest.NewServer(rig.rec)
	t.Cleanup(provSrv.Close)
	addr := freeAddr(t)
	env := map[string]string{
		"PUBLIC_URL": "http://" + addr, "SESSION_SECRET": testSecret,
		"TWITTER_API_BASE": provSrv.URL, "TWITTER_AUTHORIZE_BASE": provSrv.URL,
		"TWITTER_CLIENT_ID": devtwitter.DevClientID, "TWITTER_CLIENT_SECRET": devtwitter.DevClientSecret,
		"TWITTER_CONSUMER_KEY": devtwitter.DevConsumerKey, "TWITTER_CONSUMER_SECRET": devtwitter.DevConsumerSecret,
		"TWITTER_OFFLINE_ACCESS": "true", "RATE_LIMIT_LOGIN": "off", "RATE_LIMIT_WRITES": "off",
		"DATA_DIR": t.TempDir(),
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cfg.Flows {
		provider.AddCallbackURL(cfg.CallbackURL(f))
	}
	rig.spec = appSpec{Env: env, StoreURI: rig.proc.uri, Database: "crash", Addr: addr}
	rig.store, err = models.Open(t.Context(), models.Options{URI: rig.proc.uri, Database: "crash", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rig.store.Close(context.Background()) })
	rig.h = &harness{t: t, app: &httptest.Server{URL: "http://" + addr}, cfg: cfg, store: rig.store,
		provider: provider, provSrv: provSrv}
	return rig
}

// instance starts an app instance in this process on the rig's store, as
// a restarted or another fleet member, and closes it at the end.
func (rig *crashRig) instance(t *testing.T) {
	t.Helper()
	srv, err := New(Options{Config: rig.h.cfg, Store: rig.store, Logger: slog.New(slog.DiscardHandler), revoke: quickRevocations()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
}

// TestRevocations_SurviveAppCrash: logouts queue revocations while Twitter
// refuses them; the app process is killed (SIGKILL) with every one still
// pending; two instances started afterwards on the same store (which
// runs in a process of its own) revoke every credential at Twitter
// exactly once and empty the outbox.
func TestRevocations_SurviveAppCrash(t *testing.T) {
	rig := newCrashRig(t)
	app := startAppProcess(t, rig.spec)
	rig.rec.hold(true)
	want := map[string]bool{} // every token logged out
	b := rig.h.browser()
	for _, user := range []string{"1001", "1002", "1003"} {
		for _, flow := range flows {
			b.login(flow, user)
			tok := rig.h.user(b.userID()).Token
			want[tok.AccessToken] = true
			if tok.RefreshToken != "" {
				want[tok.RefreshToken] = true
			}
			b.logout()
		}
	}
	eventually(t, 10*time.Second, "the app never tried to revoke", func() bool {
		refused, _ := rig.rec.counts()
		return refused >= len(want) // enough for every entry to have been tried
	})
	app.Process.Signal(syscall.SIGKILL)
	app.Wait()
	pending, err := rig.store.DueRevocations(t.Context(), time.Now().Add(time.Hour), 100)
	if err != nil || len(pending) != 6 {
		t.Fatalf("outbox after the kill: %d entries (%v), want 6", len(pending), err)
	}

	rig.rec.hold(false)
	rig.instance(t)
	rig.instance(t)
	eventually(t, 20*time.Second, "not every credential was revoked after the restart", func() bool {
		_, revoked := rig.rec.counts()
		return len(revoked) >= len(want)
	})
	// Long enough for any lease of the dead process to lapse and for
	// several scans, so that a second revocation would show.
	time.Sleep(3 * time.Second)
	_, revoked := rig.rec.counts()
	for tok := range want {
		if revoked[tok] != 1 {
			t.Errorf("a logged-out token reached Twitter %d times, want once", revoked[tok])
		}
	}
	if len(revoked) != len(want) {
		t.Errorf("%d tokens revoked, want %d", len(revoked), len(want))
	}
	if left, err := rig.store.DueRevocations(t.Context(), time.Now().Add(time.Hour), 100); err != nil || len(left) != 0 {
		t.Errorf("outbox after the restart: %v (%v), want empty", left, err)
	}
}
