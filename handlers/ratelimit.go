package handlers

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"example.com/twitterlogin/config"
)

// maxLimiterKeys bounds each limiter's memory (about 150 bytes a key).
const maxLimiterKeys = 100_000

// limiter keeps one token bucket per key (a client IP, a user id). Its map
// prunes itself: a bucket left alone long enough to be full again is the
// same as a new one, so it is dropped; and if more than max keys are busy
// at once, arbitrary ones are dropped, which can only make a limit more
// lenient, never unbounded in memory. Safe for concurrent use.
type limiter struct {
	limit rate.Limit
	burst int
	max   int
	// refill is how long an untouched bucket takes to become full.
	refill time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time // last request seen
}

// newLimiter returns a limiter for rl, or nil when rl is off.
func newLimiter(rl config.RateLimit, maxKeys int) *limiter {
	if rl.Off() {
		return nil
	}
	limit := rate.Limit(float64(rl.Events) / rl.Per.Seconds())
	return &limiter{
		limit:   limit,
		burst:   rl.Burst,
		max:     maxKeys,
		refill:  time.Duration(math.Ceil(float64(rl.Burst) / float64(limit) * float64(time.Second))),
		buckets: make(map[string]*bucket),
	}
}

// allow takes one token from key's bucket at now. If there is none, it
// returns false and how long until there is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.refill {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.sweep(now)
			l.shed()
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep drops the buckets that are full again.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.refill {
			delete(l.buckets, k)
		}
	}
}

// shed drops arbitrary buckets until a tenth of the room is free, so a
// flood of distinct keys costs one sweep per max/10 new keys.
func (l *limiter) shed() {
	for k := range l.buckets {
		if len(l.buckets) < l.max-l.max/10 {
			return
		}
		delete(l.buckets, k)
	}
}

// size is the number of keys held (for tests).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// limitLogin limits login starts and callbacks per client IP. Starts and
// callbacks have a bucket each, so one login costs one token of each.
func (s *Server) limitLogin(c *gin.Context) {
	if s.loginLimit == nil {
		c.Next()
		return
	}
	key := clientKey(c.ClientIP()) + " " + path.Base(c.FullPath()) // "login" or "callback"
	if ok, wait := s.loginLimit.allow(key, s.now()); !ok {
		s.tooMany(c, "login", wait, "Too many sign-in attempts from your network.")
		return
	}
	c.Next()
}

// limitWrites limits POST /db and POST /token per signed-in user. It runs
// after requireUser.
func (s *Server) limitWrites(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	if s.writeLimit == nil || sess == nil {
		c.Next()
		return
	}
	if ok, wait := s.writeLimit.allow(sess.User.ID.Hex(), s.now()); !ok {
		s.tooMany(c, "writes", wait, "Too many requests.")
		return
	}
	c.Next()
}

// tooMany refuses a request with 429 and Retry-After (RFC 6585 §4) in
// whole seconds, rounded up.
func (s *Server) tooMany(c *gin.Context, limit string, wait time.Duration, msg string) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	s.metrics.rateLimited.WithLabelValues(limit).Inc()
	c.Header("Retry-After", strconv.Itoa(secs))
	s.fail(c, failure(http.StatusTooManyRequests, fmt.Sprintf("%s Please try again in %d seconds.", msg, secs), nil))
}

// clientKey is the bucket key of a client IP: the address itself for
// IPv4, its /64 for IPv6, where one client commonly holds a whole /64.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
