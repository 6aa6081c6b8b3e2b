package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestShutdownUnderLoad: SIGTERM while signed-in requests are flowing lets every
// request that reached the server finish; only new connections are
// refused once the listener is closed.
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

	var (
		ok, refused atomic.Int64
		mu          sync.Mutex
		failures    []string
		wg          sync.WaitGroup
		stopping    atomic.Bool
	)
	for range 16 {
		wg.Go(func() {
			for {
				resp, err := client.Get(dev.base + "/me")
				switch {
				case err != nil && errors.Is(err, syscall.ECONNREFUSED):
					// The listener is closed: the request never reached us.
					refused.Add(1)
					return
				case err != nil:
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
				if stopping.Load() && ok.Load() > 0 && refused.Load() > 0 {
					return
				}
			}
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for ok.Load() < 50 { // let the load build up
		if time.Now().After(deadline) {
			stopping.Store(true)
			dev.stop()
			wg.Wait()
			t.Fatalf("load did not build up: %d ok, failures %q", ok.Load(), failures)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopping.Store(true)
	before := ok.Load()
	if err := dev.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d requests failed during shutdown, first: %s", len(failures), failures[0])
	}
	if before == 0 {
		t.Error("no request succeeded before the signal")
	}
	t.Logf("%d requests succeeded (%d before the signal), %d connections refused after the listener closed", ok.Load(), before, refused.Load())
}
