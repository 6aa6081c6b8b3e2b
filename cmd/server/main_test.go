package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
)

// TestDevModeEndToEnd runs the program as `server -dev` does (embedded
// store, in-process dev provider), signs in through the dev provider's
// consent step, saves a record, and shuts down cleanly.
func TestDevModeEndToEnd(t *testing.T) {
	dev := startDev(t)
	base, dir := dev.base, dev.dir

	signInAndSaveRecord(t, base)
	wantDevKeyFiles(t, dir)

	if err := dev.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}

	// The signed-in user's Twitter token is stored under the dev key; a
	// new key listed first takes it over with -reencrypt-tokens.
	wantReencryptTokens(t, dir)
	if logs := dev.stderr.String(); strings.Contains(logs, "panic") {
		t.Errorf("logs:\n%s", logs)
	}
}

// signInAndSaveRecord loads the signed-out home page at base, signs in
// through the dev provider's consent step as its first user, and saves a
// record.
func signInAndSaveRecord(t *testing.T, base string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		return getBody(t, client, u)
	}

	resp, body := get(base + "/")
	if resp.StatusCode != 200 || !strings.Contains(body, "Development mode") || !strings.Contains(body, "Sign in with Twitter") {
		t.Fatalf("GET / = %d\n%s", resp.StatusCode, body)
	}

	// Follow the login to the dev provider's consent page, then approve
	// non-interactively as its first user.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ = get(base + "/auth/oauth2/login")
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("login start: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := authorize.Query()
	q.Set("auto", "approve")
	q.Set("user", "1001")
	authorize.RawQuery = q.Encode()
	client.CheckRedirect = nil
	resp, body = get(authorize.String())
	if resp.StatusCode != 200 || !strings.Contains(body, "Ada Lovelace") || !strings.Contains(body, "Log out") {
		t.Fatalf("after sign-in GET / = %d\n%s", resp.StatusCode, body)
	}

	resp2, err := client.Post(base+"/db", "application/json", strings.NewReader(`{"text":"hello"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusCreated {
		t.Fatalf("POST /db = %d", resp2.StatusCode)
	}
}

// wantDevKeyFiles checks that the dev-mode secrets kept in dir's DATA_DIR
// are readable only by their owner.
func wantDevKeyFiles(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"dev-session-secret", "dev-token-encryption-key"} {
		fi, err := os.Stat(filepath.Join(dir, "data", name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

// wantReencryptTokens runs -reencrypt-tokens on dir's DATA_DIR, where one
// Twitter token is stored under the dev key, as keys are added and removed.
func wantReencryptTokens(t *testing.T, dir string) {
	t.Helper()
	devKey, err := os.ReadFile(filepath.Join(dir, "data", "dev-token-encryption-key"))
	if err != nil {
		t.Fatal(err)
	}
	newKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, step := range []struct {
		keys string
		want string
	}{
		{"", `re-encrypted 0 Twitter tokens under key "dev"`},
		{"new:" + newKey + ",dev:" + base64.StdEncoding.EncodeToString(devKey), `re-encrypted 1 Twitter tokens under key "new"`},
		{"new:" + newKey, `re-encrypted 0 Twitter tokens under key "new"`},
	} {
		env := map[string]string{"DATA_DIR": filepath.Join(dir, "data"), "TOKEN_ENCRYPTION_KEYS": step.keys}
		var out, errs bytes.Buffer
		if err := run(context.Background(), []string{"-dev", "-reencrypt-tokens"}, func(k string) string { return env[k] }, &out, &errs); err != nil {
			t.Fatalf("-reencrypt-tokens with %q: %v\n%s", step.keys, err, errs.String())
		}
		if got := strings.TrimSpace(out.String()); got != step.want {
			t.Errorf("-reencrypt-tokens: %q, want %q", got, step.want)
		}
	}
}

// TestDevServers_SideBySide starts two dev servers at once, as two
// checkouts testing together do: each must get its own metrics listener.
func TestDevServers_SideBySide(t *testing.T) {
	a, b := startDev(t), startDev(t)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, d := range []*devServer{a, b} {
		if d.metrics == config.DevMetricsAddr {
			t.Errorf("metrics on the dev default %s", d.metrics)
		}
		for _, u := range []string{d.base + "/healthz", "http://" + d.metrics + "/metrics"} {
			resp, err := client.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s = %d, want 200", u, resp.StatusCode)
			}
		}
	}
	for _, d := range []*devServer{a, b} {
		if err := d.stop(); err != nil {
			t.Errorf("run: %v\n%s", err, d.stderr.String())
		}
	}
}

// TestDevAllowRemote: with -allow-remote, dev mode listens where ADDR
// says, and warns that it can be reached from the network.
func TestDevAllowRemote(t *testing.T) {
	_, port, _ := net.SplitHostPort(freeAddr(t))
	d := startDevOn(t, "0.0.0.0:"+port, "-allow-remote")
	if !strings.Contains(d.stderr.String(), "dev mode reachable from the network") {
		t.Errorf("no warning in the log:\n%s", d.stderr.String())
	}
	if err := d.stop(); err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestRefusesToStartMisconfigured(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"production without settings", nil, nil, "SESSION_SECRET is required"},
		{"short secret", nil, map[string]string{"SESSION_SECRET": "short"}, "SESSION_SECRET must be at least 32 bytes"},
		{"stray argument", []string{"-dev", "extra"}, nil, "unexpected arguments"},
		{"unknown flag", []string{"-nope"}, nil, "flag provided but not defined"},
		{"dev on every interface", []string{"-dev"}, map[string]string{"ADDR": ":0"}, "but ADDR=:0: use a loopback host"},
		{"dev provider on every interface", []string{"-dev"}, map[string]string{"ADDR": "127.0.0.1:0", "DEV_PROVIDER_ADDR": "0.0.0.0:0"},
			"DEV_PROVIDER_ADDR=0.0.0.0:0: use a loopback host (localhost:8080), or pass -allow-remote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			env := withEnv(tt.env, "DATA_DIR", t.TempDir())
			err := run(context.Background(), tt.args, func(k string) string { return env[k] }, io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v; want an error containing %q", err, tt.want)
			}
			if s := tt.env["SESSION_SECRET"]; s != "" && strings.Contains(err.Error(), s) {
				t.Error("the error shows the secret")
			}
		})
	}
}
