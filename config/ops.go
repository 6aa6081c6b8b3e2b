package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// RateLimit is a token bucket: on average Events per Per, with bursts of
// up to Burst. The zero value (Events 0) means no limit.
type RateLimit struct {
	Events int
	Per    time.Duration
	Burst  int
}

// Off reports whether the limit is turned off.
func (r RateLimit) Off() bool { return r.Events <= 0 }

// String formats r the way the variables are written ("20/m,10", "off").
func (r RateLimit) String() string {
	if r.Off() {
		return "off"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	return fmt.Sprintf("%d/%s,%d", r.Events, unit, r.Burst)
}

// RateLimits are the per-client limits of the app (security.md S72).
type RateLimits struct {
	// Login limits login starts and callbacks (/auth/*) per client IP
	// (RATE_LIMIT_LOGIN).
	Login RateLimit
	// Writes limits POST /db and POST /token per signed-in user
	// (RATE_LIMIT_WRITES).
	Writes RateLimit
}

// Default rate limits.
const (
	DefaultRateLimitLogin  = "20/m,10"
	DefaultRateLimitWrites = "60/m,30"
	// DevRateLimitLogin is dev mode's login limit: an automated browser
	// suite against -dev signs in far more often than a person does.
	DevRateLimitLogin = "600/m,100"
	// DevMetricsAddr is where dev mode serves /metrics when METRICS_ADDR is
	// not set.
	DevMetricsAddr = "127.0.0.1:9090"
)

// loadOps reads the operational settings: the metrics listener, trusted
// proxies and rate limits.
func (c *Config) loadOps(env func(key, def string) string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	def := ""
	if c.Dev {
		def = DevMetricsAddr
	}
	switch c.MetricsAddr = env("METRICS_ADDR", def); c.MetricsAddr {
	case "", "off":
		c.MetricsAddr = ""
	default:
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("METRICS_ADDR must be host:port or off, but is %q", c.MetricsAddr)
		} else if c.MetricsAddr == c.Addr {
			bad("METRICS_ADDR must differ from ADDR (metrics are never served on the public listener), but both are %q", c.Addr)
		}
	}

	for _, p := range splitList(env("TRUSTED_PROXIES", "")) {
		if _, err := netip.ParsePrefix(p); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, p)
		} else if _, err := netip.ParseAddr(p); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, p)
		} else {
			bad("TRUSTED_PROXIES must list IP addresses or CIDR prefixes, but has %q", p)
		}
	}

	defLogin := DefaultRateLimitLogin
	if c.Dev {
		defLogin = DevRateLimitLogin
	}
	var err error
	if c.RateLimits.Login, err = ParseRateLimit(env("RATE_LIMIT_LOGIN", defLogin)); err != nil {
		bad("RATE_LIMIT_LOGIN %v", err)
	}
	if c.RateLimits.Writes, err = ParseRateLimit(env("RATE_LIMIT_WRITES", DefaultRateLimitWrites)); err != nil {
		bad("RATE_LIMIT_WRITES %v", err)
	}
	return problems
}

// ParseRateLimit reads a limit written "N/UNIT" or "N/UNIT,BURST", where
// UNIT is s, m or h: "20/m,10" allows 20 events a minute on average and 10
// at once. Without BURST the burst is N/2 (at least 1). "off" turns the
// limit off.
func ParseRateLimit(s string) (RateLimit, error) {
	if s == "off" {
		return RateLimit{}, nil
	}
	fail := fmt.Errorf(`must be "N/UNIT" or "N/UNIT,BURST" with UNIT s, m or h (for example 20/m,10), or off, but is %q`, s)
	rateText, burstText, hasBurst := strings.Cut(s, ",")
	n, unit, ok := strings.Cut(strings.TrimSpace(rateText), "/")
	if !ok {
		return RateLimit{}, fail
	}
	var r RateLimit
	var err error
	if r.Events, err = strconv.Atoi(n); err != nil || r.Events < 1 || r.Events > 1_000_000 {
		return RateLimit{}, fail
	}
	switch unit {
	case "s":
		r.Per = time.Second
	case "m", "min":
		r.Per = time.Minute
	case "h":
		r.Per = time.Hour
	default:
		return RateLimit{}, fail
	}
	r.Burst = max(1, r.Events/2)
	if hasBurst {
		if r.Burst, err = strconv.Atoi(strings.TrimSpace(burstText)); err != nil || r.Burst < 1 || r.Burst > 1_000_000 {
			return RateLimit{}, fail
		}
	}
	return r, nil
}
