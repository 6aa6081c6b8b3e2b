package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestShutdownUnderLoad: on SIGTERM the instance drains before it closes:
// /readyz fails at once, so a load balancer (here, a poller) stops routing
// to it, and every request already sent completes successfully.
func TestShutdownUnderLoad(t *testing.T) {
	dev := startDev(t)
	client := signedInClient(t, dev.base)
	lb := pollReadiness(dev.base)
	load := startLoad(client, dev.base, lb)

	deadline := time.Now().Add(20 * time.Second)
	for load.ok.Load() < 50 { // let the load build up
		if time.Now().After(deadline) {
			t.Fatalf("load did not build up: %d ok, failures %q", load.ok.Load(), load.failures)
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := load.ok.Load()
	signal := time.Now()
	if err := dev.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	stopped := time.Now()
	load.wg.Wait()
	if len(load.failures) > 0 {
		t.Errorf("%d requests failed during shutdown: %q", len(load.failures), load.failures)
	}
	if !lb.outOfRotation.Load() || lb.outAt.After(stopped) {
		t.Error("/readyz did not fail before the server stopped")
	}
	t.Logf("%d requests succeeded (%d before the signal); out of rotation %v after the signal; stopped after %v",
		load.ok.Load(), before, lb.outAt.Sub(signal).Round(time.Millisecond), stopped.Sub(signal).Round(time.Millisecond))
}

// signedInClient returns a client with a cookie jar, signed in at base
// through the dev provider, non-interactively.
func signedInClient(t *testing.T, base string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second}

	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(base + "/auth/oauth2/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authorize, _ := url.Parse(resp.Header.Get("Location"))
	q := authorize.Query()
	q.Set("auto", "approve")
	q.Set("user", "1001")
	authorize.RawQuery = q.Encode()
	client.CheckRedirect = nil
	if resp, err = client.Get(authorize.String()); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %v %v", resp, err)
	}
	resp.Body.Close()
	return client
}

// loadBalancer polls /readyz and takes the instance out of rotation when
// it fails. outAt is set before outOfRotation, so read it only once
// outOfRotation is true.
type loadBalancer struct {
	outOfRotation atomic.Bool
	outAt         time.Time
}

// pollReadiness starts a loadBalancer polling base until /readyz fails.
func pollReadiness(base string) *loadBalancer {
	lb := &loadBalancer{}
	go func() {
		probe := &http.Client{Timeout: time.Second}
		for !lb.outOfRotation.Load() {
			resp, err := probe.Get(base + "/readyz")
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				lb.outAt = time.Now()
				lb.outOfRotation.Store(true)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return lb
}

// load is 16 clients getting /me until the instance is out of rotation,
// each stopping at its first failure.
type load struct {
	ok       atomic.Int64
	mu       sync.Mutex
	failures []string
	wg       sync.WaitGroup
}

// startLoad starts the load on base with client; wait for it with wg.
func startLoad(client *http.Client, base string, lb *loadBalancer) *load {
	l := &load{}
	for range 16 {
		l.wg.Go(func() {
			for !lb.outOfRotation.Load() {
				resp, err := client.Get(base + "/me")
				if err != nil {
					l.fail(err.Error())
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					l.fail(resp.Status)
					return
				}
				l.ok.Add(1)
			}
		})
	}
	return l
}

// fail records a failed request.
func (l *load) fail(msg string) {
	l.mu.Lock()
	l.failures = append(l.failures, msg)
	l.mu.Unlock()
}
