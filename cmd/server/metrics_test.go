package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/handlers/testdouble"
)

// TestOpsEndpoints runs the program with METRICS_ADDR set: /healthz and
// /readyz answer on the public listener, /metrics only on its own.
func TestOpsEndpoints(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	env := map[string]string{
		"ADDR":         addr,
		"PUBLIC_URL":   base,
		"DATA_DIR":     filepath.Join(t.TempDir(), "data"),
		"METRICS_ADDR": "127.0.0.1:0",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testdouble.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-dev"}, func(k string) string { return env[k] }, &stdout, &stderr) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stdout.String(), "Open "+base) {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", stderr.String())
		}
	}

	metricsAddr := metricsAddrFrom(t, stderr.String())

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(u string) (int, string) {
		t.Helper()
		resp, body := getBody(t, client, u)
		return resp.StatusCode, body
	}
	if code, body := get(base + "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q", code, body)
	}
	if code, body := get(base + "/readyz"); code != http.StatusOK {
		t.Errorf("GET /readyz = %d %q", code, body)
	}
	if code, _ := get(base + "/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener = %d, want 404", code)
	}
	code, body := get("http://" + metricsAddr + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics on METRICS_ADDR = %d", code)
	}
	for _, want := range []string{
		`twitterlogin_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`twitterlogin_store_call_duration_seconds_count{operation="ping",outcome="ok"}`,
		"twitterlogin_active_sessions 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
