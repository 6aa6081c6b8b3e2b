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
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second}

	// Sign in through the dev provider, non-interactively.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(dev.base + "/auth/oauth2/login")
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

	// The load balancer: polls /readyz and takes the instance out of
	// rotation when it fails.
	var outOfRotation atomic.Bool
	var outAt time.Time
	go func() {
		probe := &http.Client{Timeout: time.Second}
		for !outOfRotation.Load() {
			resp, err := probe.Get(dev.base + "/readyz")
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				outAt = time.Now()
				outOfRotation.Store(true)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	var (
		ok       atomic.Int64
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	for range 16 {
		wg.Go(func() {
			for !outOfRotation.Load() {
				resp, err := client.Get(dev.base + "/me")
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					mu.Lock()
					failures = append(failures, resp.Status)
					mu.Unlock()
					return
				}
				ok.Add(1)
			}
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for ok.Load() < 50 { // let the load build up
		if time.Now().After(deadline) {
			t.Fatalf("load did not build up: %d ok, failures %q", ok.Load(), failures)
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := ok.Load()
	signal := time.Now()
	if err := dev.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	stopped := time.Now()
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d requests failed during shutdown: %q", len(failures), failures)
	}
	if !outOfRotation.Load() || outAt.After(stopped) {
		t.Error("/readyz did not fail before the server stopped")
	}
	t.Logf("%d requests succeeded (%d before the signal); out of rotation %v after the signal; stopped after %v",
		ok.Load(), before, outAt.Sub(signal).Round(time.Millisecond), stopped.Sub(signal).Round(time.Millisecond))
}
