package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/handlers/testdouble"
)

func TestParseOptionsRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"remote address", []string{"-addr", "0.0.0.0:8090"}, "loopback"},
		{"bad address", []string{"-addr", "nope"}, "-addr"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
		{"empty audience", []string{"-audience", ""}, "-audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseOptions(tt.args, func(string) string { return "" }, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseOptions = %v, want %q", err, tt.want)
			}
		})
	}
	if err := run(context.Background(), []string{"-jwks-url", "http://example.com/jwks.json", "-addr", "127.0.0.1:0"}, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
		t.Error("run accepted a plain-http JWK Set URL off loopback")
	}
	noPEM := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(noPEM, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	// IMAGESERVICE_ROOTS is -roots' default.
	env := func(k string) string { return map[string]string{"IMAGESERVICE_ROOTS": noPEM}[k] }
	if err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, env, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("run with a roots file without certificates = %v", err)
	}
}

// TestRunServesAndShutsDown: the program starts against an empty JWK Set,
// refuses a request without a token, and stops on cancel.
func TestRunServesAndShutsDown(t *testing.T) {
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer jwks.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	env := map[string]string{"IMAGESERVICE_ADDR": addr, "IMAGESERVICE_JWKS_URL": jwks.URL}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testdouble.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, &out) }()

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "listening") {
		if time.Now().After(deadline) {
			t.Fatalf("did not start:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/image")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer realm="image-service"` {
		t.Errorf("GET /image without a token = %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
