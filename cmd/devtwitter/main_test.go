package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/handlers/testdouble"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestRun_FlagValidation(t *testing.T) {
	const cb = "http://127.0.0.1:8080/auth/twitter/callback"
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"no callback", []string{"-addr", "127.0.0.1:0"}, nil, "-callback is required"},
		{"non-loopback addr", []string{"-callback", cb, "-addr", "0.0.0.0:8081"}, nil, "loopback"},
		{"all interfaces", []string{"-callback", cb, "-addr", ":8081"}, nil, "loopback"},
		{"malformed addr", []string{"-callback", cb, "-addr", "127.0.0.1"}, nil, "-addr"},
		{"relative callback", []string{"-callback", "/cb", "-addr", "127.0.0.1:0"}, nil, "callback URL"},
		{"unknown flag", []string{"-nope"}, nil, "not defined"},
		{"stray argument", []string{"-callback", cb, "extra"}, nil, "unexpected arguments"},
		{"every problem listed", []string{"-addr", "10.0.0.1:80"}, nil, "loopback"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, envMap(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("run err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		wantCallbacks int
	}{
		{"repeated flag", []string{"-callback", "http://a/cb", "-callback", "http://b/cb"}, nil, 2},
		{"env", nil, map[string]string{"DEV_TWITTER_CALLBACKS": "http://a/cb, http://b/cb,"}, 2},
		{"flag wins over env", []string{"-callback", "http://a/cb"}, map[string]string{"DEV_TWITTER_CALLBACKS": "http://b/cb,http://c/cb"}, 1},
		{"remote allowed explicitly", []string{"-callback", "http://a/cb", "-addr", "0.0.0.0:8081", "-allow-remote"}, nil, 1},
		{"localhost", []string{"-callback", "http://a/cb", "-addr", "localhost:8081"}, nil, 1},
		{"ipv6 loopback", []string{"-callback", "http://a/cb", "-addr", "[::1]:8081"}, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, envMap(tc.env), io.Discard)
			if err != nil {
				t.Fatalf("parseOptions: %v", err)
			}
			if len(o.callbacks) != tc.wantCallbacks {
				t.Errorf("callbacks = %q, want %d", o.callbacks, tc.wantCallbacks)
			}
		})
	}
}

func TestRun_ServesAndShutsDown(t *testing.T) {
	out := &testdouble.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-callback", "http://127.0.0.1:8080/cb"}, envMap(nil), out)
	}()
	baseRe := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		base = baseRe.FindString(out.String())
	}
	if base == "" {
		cancel()
		t.Fatalf("no base URL printed; output %q", out.String())
	}
	resp, err := http.Get(base + "/avatars/1001.svg")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("avatar status = %d", resp.StatusCode)
	}
	for _, want := range []string{"dev-consumer-key", "dev-consumer-secret", "dev-client-id", "dev-client-secret"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
