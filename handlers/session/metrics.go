package session

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// cacheRead is a kind of store read the session cache makes.
type cacheRead int

// The kinds of cache read, the values of the kind label.
const (
	cacheReadSession cacheRead = iota // a session, on a miss or re-read
	cacheReadUser                     // a user, on a miss or profile reload
	cacheReadChanges                  // a lookup of the change feed's poll
	cacheReadKinds
)

func (k cacheRead) String() string {
	switch k {
	case cacheReadSession:
		return "session"
	case cacheReadUser:
		return "user"
	default:
		return "changes"
	}
}

// cacheMetrics count what the session cache costs the store, and hold.
type cacheMetrics struct {
	storeReads [cacheReadKinds]prometheus.Counter
}

// newCacheMetrics registers the session cache's metrics in reg:
// twitterlogin_session_cache_store_reads_total by kind (session, user,
// changes) and twitterlogin_session_cache_entries by kind (session,
// user), read from c when scraped.
// A nil reg leaves them unregistered.
func newCacheMetrics(reg prometheus.Registerer, c *cache) (*cacheMetrics, error) {
	reads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twitterlogin_session_cache_store_reads_total",
		Help: "Store reads made by the session cache (misses, re-reads, profile reloads) and its change-feed polls, by kind (session, user, changes).",
	}, []string{"kind"})
	m := &cacheMetrics{}
	for k := range cacheReadKinds {
		m.storeReads[k] = reads.WithLabelValues(k.String())
	}
	entries := func(kind string, n func() int) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "twitterlogin_session_cache_entries",
			Help:        "Entries in the session cache, by kind (session, including ended ones; user).",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(n()) })
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{reads,
		entries("session", func() int { n, _ := c.counts(); return n }),
		entries("user", func() int { _, n := c.counts(); return n }),
	} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("register cache metrics: %w", err)
		}
	}
	return m, nil
}

func (m *cacheMetrics) reads(k cacheRead) { m.storeReads[k].Inc() }

func (m *cacheMetrics) readN(k cacheRead, n int) { m.storeReads[k].Add(float64(n)) }
