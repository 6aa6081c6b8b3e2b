package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
	"example.com/twitterlogin/models/storetest"
)

func TestHealthz(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	r := h.browser().get("/healthz")
	wantStatus(t, r, http.StatusOK)
	if r.body != "ok\n" {
		t.Errorf("body %q, want ok", r.body)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
}

// TestReadyz: ready while the store answers; 503 JSON within about the
// ready timeout once it is gone, while /healthz stays 200.
func TestReadyz(t *testing.T) {
	db, err := embedded.Start(context.Background(), embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := newHarness(t, harnessOptions{store: storetest.Open(t, db)})
	b := h.browser()

	r := b.get("/readyz")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.body, `"ready"`) {
		t.Errorf("body %q", r.body)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	msg := wantJSONError(t, b.get("/readyz"), http.StatusServiceUnavailable)
	took := time.Since(start)
	t.Logf("/readyz answered 503 %v after the store stopped", took.Round(time.Millisecond))
	if took > readyTimeout+500*time.Millisecond {
		t.Errorf("/readyz took %v, want about %v at most", took, readyTimeout)
	}
	if !strings.Contains(msg, "Not ready") {
		t.Errorf("503 message %q", msg)
	}
	wantStatus(t, b.get("/healthz"), http.StatusOK)
}

// TestReadyz_DrainLogsNoError: while draining, /readyz answers 503 on
// every probe, but a drain is expected, so nothing is logged as a warning
// or an error.
func TestReadyz_DrainLogsNoError(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	h.srv.Drain()
	for range 3 {
		if msg := wantJSONError(t, b.get("/readyz"), http.StatusServiceUnavailable); !strings.Contains(msg, "shutting down") {
			t.Errorf("503 message %q", msg)
		}
	}
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
			t.Errorf("drain logged: %s", line)
		}
	}
}

// TestMetrics: the metrics are on their own handler (not the public
// router), label requests by route pattern, and count logins by outcome,
// store calls and active sessions.
func TestMetrics(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	metricsSrv := httptest.NewServer(h.srv.MetricsHandler())
	t.Cleanup(metricsSrv.Close)

	b := h.browser()
	wantStatus(t, b.get("/metrics"), http.StatusNotFound)
	b.login(config.OAuth2, "1001")
	wantStatus(t, b.post("/db", "application/json", `{"text":"hello"}`), http.StatusCreated)
	wantStatus(t, b.get("/db"), http.StatusOK)
	wantStatus(t, b.get("/activity"), http.StatusOK)
	wantStatus(t, b.get("/no/such/page/12345"), http.StatusNotFound)

	c := h.browser()
	cb := c.consent(c.startLogin(config.OAuth1), "deny", "1002")
	wantStatus(t, c.get(cb.String()), http.StatusFound)
	wantStatus(t, c.get("/auth/oauth2/callback?state=forged&code=x"), http.StatusBadRequest)

	h.srv.refreshActiveSessions(context.Background())

	resp, err := http.Get(metricsSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the Prometheus text format", ct)
	}
	for _, want := range []string{
		`twitterlogin_http_requests_total{method="POST",route="/db",status="201"} 1`,
		`twitterlogin_http_requests_total{method="GET",route="/db",status="200"} 1`,
		`twitterlogin_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`twitterlogin_http_requests_total{method="GET",route="/auth/oauth2/callback",status="302"} 1`,
		`twitterlogin_http_request_duration_seconds_bucket{method="GET",route="/db",le="+Inf"} 1`,
		`twitterlogin_logins_total{flow="oauth2",outcome="success"} 1`,
		`twitterlogin_logins_total{flow="oauth1",outcome="cancelled"} 1`,
		`twitterlogin_logins_total{flow="oauth2",outcome="refused"} 1`,
		`twitterlogin_logins_total{flow="oauth2",outcome="provider_error"} 0`,
		`twitterlogin_store_call_duration_seconds_count{operation="insert_record",outcome="ok"} 1`,
		`twitterlogin_store_call_duration_seconds_count{operation="record_sign_in",outcome="ok"} 1`,
		// Every store method is timed, not only the first ones written.
		`twitterlogin_store_call_duration_seconds_count{operation="events_by_user",outcome="ok"} 1`,
		`twitterlogin_active_sessions 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Raw paths never become label values.
	if strings.Contains(body, "12345") {
		t.Error("a raw request path leaked into the metrics")
	}
	if m := regexp.MustCompile(`route="[^"]*\?`).FindString(body); m != "" {
		t.Errorf("a query string leaked into a route label: %s", m)
	}
}

func TestLoginOutcome(t *testing.T) {
	provider := &providerError{step: "users/me", err: errors.New("429")}
	tests := []struct {
		status   int
		location string
		err      error
		want     string
	}{
		{http.StatusFound, "/", nil, loginSuccess},
		{http.StatusFound, "/?notice=cancelled", nil, loginCancelled},
		{http.StatusBadRequest, "", loginFailed(nil), loginRefused},
		{http.StatusTooManyRequests, "", nil, loginRefused},
		{http.StatusBadGateway, "", provider, loginProviderError},
		{http.StatusGatewayTimeout, "", nil, loginProviderError},
		{http.StatusServiceUnavailable, "", provider, loginProviderError},
		{http.StatusServiceUnavailable, "", models.ErrUnavailable, loginStoreError},
		{http.StatusInternalServerError, "", errors.New("upsert user"), loginStoreError},
	}
	for _, tc := range tests {
		if got := loginOutcome(tc.status, tc.location, tc.err); got != tc.want {
			t.Errorf("loginOutcome(%d, %q, %v) = %s, want %s", tc.status, tc.location, tc.err, got, tc.want)
		}
	}
}
