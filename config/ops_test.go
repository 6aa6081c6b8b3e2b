package config_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/twitterlogin/config"
)

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		in   string
		want config.RateLimit
		err  bool
	}{
		{"20/m,10", config.RateLimit{Events: 20, Per: time.Minute, Burst: 10}, false},
		{"60/m", config.RateLimit{Events: 60, Per: time.Minute, Burst: 30}, false},
		{"1/s", config.RateLimit{Events: 1, Per: time.Second, Burst: 1}, false},
		{"100/h,5", config.RateLimit{Events: 100, Per: time.Hour, Burst: 5}, false},
		{"off", config.RateLimit{}, false},
		{"20", config.RateLimit{}, true},
		{"0/m", config.RateLimit{}, true},
		{"20/d", config.RateLimit{}, true},
		{"20/m,0", config.RateLimit{}, true},
		{"-1/m", config.RateLimit{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := config.ParseRateLimit(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("ParseRateLimit(%q) error = %v, want error %v", tc.in, err, tc.err)
			}
			if got != tc.want {
				t.Errorf("ParseRateLimit(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestOpsDefaults(t *testing.T) {
	dev, err := load(t, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dev.MetricsAddr != config.DevMetricsAddr {
		t.Errorf("dev MetricsAddr = %q, want %q", dev.MetricsAddr, config.DevMetricsAddr)
	}
	if got := dev.RateLimits.Login.String(); got != config.DevRateLimitLogin {
		t.Errorf("Login limit = %s, want %s", got, config.DevRateLimitLogin)
	}
	if got := dev.RateLimits.Writes.String(); got != config.DefaultRateLimitWrites {
		t.Errorf("Writes limit = %s, want %s", got, config.DefaultRateLimitWrites)
	}
	if dev.TrustedProxies != nil {
		t.Errorf("TrustedProxies = %q, want none", dev.TrustedProxies)
	}
	prod, err := load(t, false, map[string]string{
		"PUBLIC_URL": "https://login.example.com", "SESSION_SECRET": secret, "TOKEN_ENCRYPTION_KEYS": "k1:" + encKey,
		"TWITTER_CLIENT_ID": "id", "TWITTER_CLIENT_SECRET": "s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if prod.MetricsAddr != "" {
		t.Errorf("production MetricsAddr = %q, want off", prod.MetricsAddr)
	}
}

func TestOpsSettings(t *testing.T) {
	c, err := load(t, true, map[string]string{
		"METRICS_ADDR":      "off",
		"TRUSTED_PROXIES":   "10.0.0.1, 172.28.0.0/24,::1",
		"RATE_LIMIT_LOGIN":  "off",
		"RATE_LIMIT_WRITES": "5/s,2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "" {
		t.Errorf("MetricsAddr = %q, want off", c.MetricsAddr)
	}
	if want := []string{"10.0.0.1", "172.28.0.0/24", "::1"}; !slices.Equal(c.TrustedProxies, want) {
		t.Errorf("TrustedProxies = %q, want %q", c.TrustedProxies, want)
	}
	if !c.RateLimits.Login.Off() || c.RateLimits.Writes != (config.RateLimit{Events: 5, Per: time.Second, Burst: 2}) {
		t.Errorf("RateLimits = %+v", c.RateLimits)
	}
}

func TestOpsInvalid(t *testing.T) {
	_, err := load(t, true, map[string]string{
		"ADDR":              "127.0.0.1:8080",
		"METRICS_ADDR":      "127.0.0.1:8080",
		"TRUSTED_PROXIES":   "proxy.example.com",
		"RATE_LIMIT_LOGIN":  "lots",
		"RATE_LIMIT_WRITES": "10/week",
	})
	if err == nil {
		t.Fatal("Load accepted invalid settings")
	}
	for _, name := range []string{"METRICS_ADDR must differ from ADDR", `TRUSTED_PROXIES must list IP addresses or CIDR prefixes, but has "proxy.example.com"`, "RATE_LIMIT_LOGIN", "RATE_LIMIT_WRITES"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not mention %q:\n%v", name, err)
		}
	}
}

// TestVariables checks that Variables lists exactly the variables Load
// reads, in every mode, so deployment checks built on it miss nothing.
func TestVariables(t *testing.T) {
	t.Chdir(t.TempDir()) // dev mode writes its secrets into DATA_DIR
	var mu sync.Mutex
	read := map[string]bool{}
	record := func(env map[string]string) func(string) string {
		return func(k string) string {
			mu.Lock()
			defer mu.Unlock()
			read[k] = true
			return env[k]
		}
	}
	for _, tc := range []struct {
		dev bool
		env map[string]string
	}{
		{true, nil},
		{false, nil},
		{false, map[string]string{
			"PUBLIC_URL": "https://login.example.com", "SESSION_SECRET": secret, "TOKEN_ENCRYPTION_KEYS": "k1:" + encKey,
			"TWITTER_CLIENT_ID": "id", "TWITTER_CLIENT_SECRET": "s",
			"TWITTER_CONSUMER_KEY": "k", "TWITTER_CONSUMER_SECRET": "s",
			"TOKEN_KEY_FILES": "k.pem", "TOKEN_CERT_FILES": "c.pem",
		}},
	} {
		_, _ = config.Load(record(tc.env), tc.dev)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range read {
			if !yield(k) {
				return
			}
		}
	})
	want := config.Variables()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Load reads %q\nVariables lists %q", got, want)
	}
}
