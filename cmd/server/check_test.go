package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/handlers/testdouble"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

// checkEnv is a valid dev-mode configuration with keys, pointing at a dev
// provider and a store whose indexes exist.
type checkEnv struct {
	env      map[string]string
	provider *httptest.Server
}

const checkPublicURL = "http://localhost:8080"

func newCheckEnv(t *testing.T, provider devtwitter.Config) *checkEnv {
	t.Helper()
	if provider.CallbackURLs == nil {
		provider.CallbackURLs = []string{checkPublicURL + "/auth/oauth2/callback", checkPublicURL + "/auth/oauth1/callback"}
	}
	p, err := devtwitter.New(provider)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)

	db := storetest.NewServer(t)
	name := storetest.DatabaseName()
	ctx := context.Background()
	store, err := models.Open(ctx, models.Options{URI: db.URI(), Database: name}) // creates the indexes
	if err != nil {
		t.Fatal(err)
	}
	store.Close(ctx)
	return &checkEnv{provider: srv, env: map[string]string{
		"PUBLIC_URL":              checkPublicURL,
		"SESSION_SECRET":          "check-secret-0123456789-abcdefghijklmnop",
		"MONGODB_URI":             db.URI(),
		"MONGODB_DATABASE":        name,
		"TWITTER_API_BASE":        srv.URL,
		"TWITTER_AUTHORIZE_BASE":  srv.URL,
		"TWITTER_CLIENT_ID":       devtwitter.DevClientID,
		"TWITTER_CLIENT_SECRET":   devtwitter.DevClientSecret,
		"TWITTER_CONSUMER_KEY":    devtwitter.DevConsumerKey,
		"TWITTER_CONSUMER_SECRET": devtwitter.DevConsumerSecret,
		"TWITTER_TIMEOUT":         "3s",
		"DATA_DIR":                t.TempDir(),
	}}
}

// runCheck runs `server -dev -check` with env and returns its output.
func runCheck(t *testing.T, env map[string]string) (string, error) {
	t.Helper()
	var stdout, stderr testdouble.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run(ctx, []string{"-dev", "-check"}, func(k string) string { return env[k] }, &stdout, &stderr)
	out := stdout.String()
	for _, secret := range []string{env["SESSION_SECRET"], env["TWITTER_CLIENT_SECRET"], env["TWITTER_CONSUMER_SECRET"]} {
		if secret != "" && strings.Contains(out+stderr.String(), secret) {
			t.Errorf("the check printed a secret:\n%s", out)
		}
	}
	return out, err
}

// wantLine checks that out has a line starting with prefix that contains
// every text.
func wantLine(t *testing.T, out, prefix string, texts ...string) {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for _, s := range texts {
			if !strings.Contains(line, s) {
				t.Errorf("line %q does not contain %q", line, s)
			}
		}
		return
	}
	t.Errorf("no line starting with %q in:\n%s", prefix, out)
}

func TestCheck_AllGood(t *testing.T) {
	e := newCheckEnv(t, devtwitter.Config{})
	out, err := runCheck(t, e.env)
	if err != nil {
		t.Fatalf("check failed: %v\n%s", err, out)
	}
	for _, prefix := range []string{
		"OK   config:", "OK   SESSION_SECRET: 40 bytes", "OK   TWITTER_CLIENT_SECRET:", "OK   TWITTER_CONSUMER_SECRET:",
		"OK   PUBLIC_URL: " + checkPublicURL,
		"OK   callback oauth2: " + checkPublicURL + "/auth/oauth2/callback",
		"OK   callback oauth1: " + checkPublicURL + "/auth/oauth1/callback",
		"OK   store:", "OK   store indexes:", "OK   twitter oauth1:", "OK   twitter oauth2:",
	} {
		wantLine(t, out, prefix)
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("unexpected failure:\n%s", out)
	}
}

func TestCheck_WrongKeys(t *testing.T) {
	e := newCheckEnv(t, devtwitter.Config{})
	e.env["TWITTER_CONSUMER_SECRET"] = "not-the-consumer-secret"
	e.env["TWITTER_CLIENT_SECRET"] = "not-the-client-secret"
	out, err := runCheck(t, e.env)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("err = %v, want errCheckFailed\n%s", err, out)
	}
	wantLine(t, out, "FAIL twitter oauth1:", "401", "code 32", "TWITTER_CONSUMER_SECRET")
	wantLine(t, out, "FAIL twitter oauth2:", "401", "unauthorized_client", "app type", "public clients")
	wantLine(t, out, "OK   store indexes:")
	wantLine(t, out, "2 of ")
	t.Logf("\n%s", out)
}

func TestCheck_CallbackNotRegistered(t *testing.T) {
	e := newCheckEnv(t, devtwitter.Config{CallbackURLs: []string{"http://localhost:9999/auth/oauth1/callback"}})
	out, err := runCheck(t, e.env)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("err = %v, want errCheckFailed\n%s", err, out)
	}
	wantLine(t, out, "FAIL twitter oauth1:", "403", "code 415", "not registered", checkPublicURL+"/auth/oauth1/callback")
	// The token endpoint checks the client before the redirect URI.
	wantLine(t, out, "OK   twitter oauth2:")
}

// TestCheck_TwitterUnreachable: a Twitter that does not answer is named
// with the network cause only, for both flows.
func TestCheck_TwitterUnreachable(t *testing.T) {
	e := newCheckEnv(t, devtwitter.Config{})
	e.provider.Close()
	out, err := runCheck(t, e.env)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("err = %v, want errCheckFailed\n%s", err, out)
	}
	for _, prefix := range []string{"FAIL twitter oauth1:", "FAIL twitter oauth2:"} {
		wantLine(t, out, prefix, "cannot reach "+e.provider.URL+": dial tcp", "hint: check TWITTER_API_BASE")
	}
	if strings.Contains(out, "oauth/request_token:") || strings.Contains(out, "oauth2/token:") {
		t.Errorf("the network cause names the call again:\n%s", out)
	}
}

func TestCheck_ClockSkew(t *testing.T) {
	e := newCheckEnv(t, devtwitter.Config{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	out, err := runCheck(t, e.env)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("err = %v, want errCheckFailed\n%s", err, out)
	}
	wantLine(t, out, "FAIL twitter oauth1:", "code 135", "clock", "NTP")
}

func TestCheck_StoreAndIndexes(t *testing.T) {
	e := newCheckEnv(t, devtwitter.Config{})
	// Before the first start: the server will create them, and the store
	// (no access control) lets it.
	t.Run("indexes missing", func(t *testing.T) {
		env := withEnv(e.env, "MONGODB_DATABASE", storetest.DatabaseName())
		out, err := runCheck(t, env)
		if err != nil {
			t.Fatalf("check failed: %v\n%s", err, out)
		}
		wantLine(t, out, "OK   store:")
		wantLine(t, out, "OK   store indexes:", "will be created at start-up", "users {twitter_id: 1} unique")
	})
	t.Run("unreachable", func(t *testing.T) {
		env := withEnv(e.env, "MONGODB_URI", "mongodb://127.0.0.1:1/?connectTimeoutMS=500")
		out, err := runCheck(t, env)
		if !errors.Is(err, errCheckFailed) {
			t.Fatalf("err = %v, want errCheckFailed\n%s", err, out)
		}
		wantLine(t, out, "FAIL store:", "cannot reach the MONGODB_URI", "hint:")
	})
}

func TestCheck_BadConfig(t *testing.T) {
	e := newCheckEnv(t, devtwitter.Config{})
	env := withEnv(e.env, "SESSION_SECRET", "short")
	out, err := runCheck(t, env)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("err = %v, want errCheckFailed\n%s", err, out)
	}
	wantLine(t, out, "FAIL config:", "SESSION_SECRET must be at least 32 bytes")
}

// withEnv returns a copy of m with k set to v.
func withEnv(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// TestCheck_NoSpuriousFlowLine: TWITTER_FLOW unset is never reported as
// invalid, whether the rest is valid or a key pair is incomplete (the
// check then names the pair, not TWITTER_FLOW).
func TestCheck_NoSpuriousFlowLine(t *testing.T) {
	e := newCheckEnv(t, devtwitter.Config{})
	oauth2Only := withEnv(withEnv(e.env, "TWITTER_CONSUMER_KEY", ""), "TWITTER_CONSUMER_SECRET", "")
	tests := []struct {
		name     string
		env      map[string]string
		wantFail string // a FAIL config line, or "" for a passing check
	}{
		{"valid", e.env, ""},
		{"valid, one flow", oauth2Only, ""},
		{"half a key pair", withEnv(oauth2Only, "TWITTER_CLIENT_SECRET", ""), "TWITTER_CLIENT_ID and TWITTER_CLIENT_SECRET must be set together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCheck(t, tt.env)
			if tt.wantFail == "" && err != nil {
				t.Fatalf("check failed: %v\n%s", err, out)
			}
			if tt.wantFail != "" {
				wantLine(t, out, "FAIL config:", tt.wantFail)
			}
			if strings.Contains(out, "TWITTER_FLOW") {
				t.Errorf("the check reports TWITTER_FLOW, which is not set:\n%s", out)
			}
		})
	}
}
