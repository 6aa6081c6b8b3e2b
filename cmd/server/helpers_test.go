package main

// The program running in-process as `server -dev`, shared by the tests
// of main, metrics and shutdown.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/handlers/testdouble"
)

// devServer is the program running in-process as `server -dev`.
type devServer struct {
	base, dir      string
	metrics        string // the metrics listener's bound host:port
	stdout, stderr *testdouble.Buffer
	cancel         context.CancelFunc // what SIGINT/SIGTERM do in main
	done           chan error
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDev runs the program as `server -dev` on a free loopback port with
// its data in a temporary folder, and waits until it serves. Metrics listen
// on port 0, so test runs never share the dev default 127.0.0.1:9090.
func startDev(t *testing.T) *devServer {
	t.Helper()
	return startDevOn(t, freeAddr(t))
}

// startDevOn is startDev listening on addr (a free port), with more
// command-line arguments.
func startDevOn(t *testing.T, addr string, args ...string) *devServer {
	t.Helper()
	d := &devServer{dir: t.TempDir(), stdout: &testdouble.Buffer{}, stderr: &testdouble.Buffer{}, done: make(chan error, 1)}
	_, port, _ := net.SplitHostPort(addr)
	d.base = "http://127.0.0.1:" + port
	env := map[string]string{
		"ADDR":         addr,
		"PUBLIC_URL":   d.base,
		"DATA_DIR":     filepath.Join(d.dir, "data"),
		"METRICS_ADDR": "127.0.0.1:0",
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	t.Cleanup(cancel)
	go func() {
		d.done <- run(ctx, append([]string{"-dev"}, args...), func(k string) string { return env[k] }, d.stdout, d.stderr)
	}()

	deadline := time.After(60 * time.Second)
	for !strings.Contains(d.stdout.String(), "Open "+d.base) {
		select {
		case err := <-d.done:
			t.Fatalf("run returned early: %v\n%s", err, d.stderr.String())
		case <-deadline:
			t.Fatalf("server did not start:\n%s", d.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.metrics = metricsAddrFrom(t, d.stderr.String())
	return d
}

// stop does what SIGTERM does and waits for run to return.
func (d *devServer) stop() error {
	d.cancel()
	select {
	case err := <-d.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("run did not return within 30s of the signal")
	}
}

// servingMetrics matches the log line that names the metrics listener's
// bound address (text handler in dev mode).
var servingMetrics = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// metricsAddrFrom returns the bound metrics address logged by run: with
// METRICS_ADDR on port 0 the log is the only place that says it.
func metricsAddrFrom(t *testing.T, logs string) string {
	t.Helper()
	m := servingMetrics.FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no metrics listener in the log:\n%s", logs)
	}
	return m[1]
}

// getBody GETs u with client and returns the response and its body.
func getBody(t *testing.T, client *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
