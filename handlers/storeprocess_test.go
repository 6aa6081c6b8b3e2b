package handlers

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
)

// storeProcessEnv tells a test binary to run as a store process: its value
// is "<data dir>|<listen address>".
const storeProcessEnv = "TWITTERLOGIN_TEST_STORE_PROCESS"

// runStoreProcess runs the embedded store in this process, prints its URI
// and serves until the process is killed.
func runStoreProcess(spec string) int {
	dir, addr, _ := strings.Cut(spec, "|")
	srv, err := embedded.Start(context.Background(), embedded.Options{Dir: dir, Addr: addr, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("READY", srv.URI())
	select {}
}

// storeProcess is the embedded store running as a separate OS process,
// which a test can kill and start again on the same address and data.
type storeProcess struct {
	t         *testing.T
	dir, addr string
	uri       string
	cmd       *exec.Cmd
}

func startStoreProcess(t *testing.T, dir, addr string) *storeProcess {
	t.Helper()
	p := &storeProcess{t: t, dir: dir, addr: addr}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *storeProcess) start() {
	p.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), storeProcessEnv+"="+p.dir+"|"+p.addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		cmd.Process.Kill()
		p.t.Fatalf("store process: %q %v", line, err)
	}
	p.uri = strings.TrimSpace(strings.TrimPrefix(line, "READY "))
	// Start again on the same port: "mongodb://host:port/...".
	p.addr = strings.SplitN(p.uri, "/", 4)[2]
	p.cmd = cmd
}

// kill stops the process hard, as a crash or an unplugged server would.
func (p *storeProcess) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		p.cmd = nil
	}
}

// outcome is one answer to a write during TestStoreProcessOutageUnderLoad.
type outcome struct {
	at      time.Time
	status  int
	latency time.Duration
}

// writeLoad is writers posting records as one signed-in user until
// stopped, noting every answer and which records were acknowledged.
type writeLoad struct {
	mu       sync.Mutex
	outcomes []outcome
	acked    map[string]bool
	seq      atomic.Int64
	stop     atomic.Bool
	wg       sync.WaitGroup
}

// startWriteLoad starts n writers posting to app/db with the session cookie.
func startWriteLoad(t *testing.T, client *http.Client, appURL, cookie string, n int) *writeLoad {
	l := &writeLoad{acked: map[string]bool{}}
	for range n {
		l.wg.Go(func() {
			for !l.stop.Load() {
				text := fmt.Sprintf("record %d", l.seq.Add(1))
				req, _ := http.NewRequest(http.MethodPost, appURL+"/db", strings.NewReader(`{"text":"`+text+`"}`))
				req.Header.Set("Content-Type", "application/json")
				req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("POST /db: %v", err)
					return
				}
				resp.Body.Close()
				l.mu.Lock()
				l.outcomes = append(l.outcomes, outcome{start, resp.StatusCode, time.Since(start)})
				if resp.StatusCode == http.StatusCreated {
					l.acked[text] = true
				}
				l.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	return l
}

// finish stops the writers and waits for them.
func (l *writeLoad) finish() {
	l.stop.Store(true)
	l.wg.Wait()
}

// outageFigures reads the answers: when the first 503 came, the slowest
// 503, and the first 201 of a request sent after restartedAt. Any other
// status is an error.
func outageFigures(t *testing.T, outcomes []outcome, restartedAt time.Time) (first503, recovered time.Time, slowest time.Duration) {
	t.Helper()
	for _, o := range outcomes {
		switch {
		case o.status != http.StatusCreated && o.status != http.StatusServiceUnavailable:
			t.Errorf("status %d; want only 201 or 503", o.status)
		case o.status == http.StatusServiceUnavailable:
			if first503.IsZero() || o.at.Add(o.latency).Before(first503) {
				first503 = o.at.Add(o.latency)
			}
			slowest = max(slowest, o.latency)
		case o.at.After(restartedAt) && (recovered.IsZero() || o.at.Add(o.latency).Before(recovered)):
			recovered = o.at.Add(o.latency)
		}
	}
	return first503, recovered, slowest
}

// wantRecords fails unless every acknowledged text is among uid's records.
func wantRecords(t *testing.T, store *models.Store, uid bson.ObjectID, acked map[string]bool) {
	t.Helper()
	recs, err := store.RecordsByOwner(context.Background(), uid, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range recs {
		have[r.Text] = true
	}
	lost := 0
	for text := range acked {
		if !have[text] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged records lost", lost, len(acked))
	}
}

// TestStoreProcessOutageUnderLoad: with the store in its own process,
// killed while users are writing and started again: requests during the
// outage fail fast with 503 (JSON), /readyz fails, nothing panics, the app
// serves again within seconds of the store's return without a restart,
// and every record acknowledged with 201 is there afterwards.
func TestStoreProcessOutageUnderLoad(t *testing.T) {
	dir := t.TempDir()
	proc := startStoreProcess(t, dir, "127.0.0.1:0")
	ctx := context.Background()
	store, err := models.Open(ctx, models.Options{URI: proc.uri, Database: "outage", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(context.Background()) })
	h := newHarness(t, harnessOptions{store: store, env: map[string]string{"SESSION_CACHE_TTL": "5s"}})
	b := h.browser()
	b.login("oauth2", "1001")
	client := &http.Client{Timeout: 30 * time.Second}
	load := startWriteLoad(t, client, h.app.URL, b.cookie(sessionCookie), 4)
	readyz := func() int {
		resp, err := client.Get(h.app.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	time.Sleep(time.Second)
	killedAt := time.Now()
	proc.kill()
	time.Sleep(3 * time.Second)
	if got := readyz(); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d, want 503", got)
	}
	restartedAt := time.Now()
	proc.start()
	time.Sleep(4 * time.Second)
	load.finish()
	if got := readyz(); got != http.StatusOK {
		t.Errorf("/readyz after the store came back: %d, want 200", got)
	}

	first503, recovered, slowest := outageFigures(t, load.outcomes, restartedAt)
	if first503.IsZero() || recovered.IsZero() {
		t.Fatalf("no outage seen or no recovery: first 503 %v, recovered %v", first503, recovered)
	}
	if slowest > 5*time.Second {
		t.Errorf("a request took %v to fail during the outage; want a quick 503", slowest)
	}
	if d := recovered.Sub(restartedAt); d > 10*time.Second {
		t.Errorf("recovered %v after the store came back; want seconds", d)
	}
	wantRecords(t, store, b.userID(), load.acked)
	if strings.Contains(h.logs.String(), "panic") {
		t.Error("panic in the log")
	}
	t.Logf("first 503 %v after the kill; slowest 503 %v; first 201 %v after the restart; %d acknowledged, 0 lost",
		first503.Sub(killedAt).Round(time.Millisecond), slowest.Round(time.Millisecond),
		recovered.Sub(restartedAt).Round(time.Millisecond), len(load.acked))
}
