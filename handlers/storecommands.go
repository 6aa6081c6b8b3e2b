package handlers

import (
	"github.com/prometheus/client_golang/prometheus"

	"example.com/twitterlogin/models"
)

// storeCommands exports a [models.CommandCounter] as
// twitterlogin_store_commands_total: the commands the store really sent,
// which the per-method timings cannot show (one method may send several).
type storeCommands struct {
	counter *models.CommandCounter
	desc    *prometheus.Desc
}

func newStoreCommands(c *models.CommandCounter) *storeCommands {
	return &storeCommands{counter: c, desc: prometheus.NewDesc(
		"twitterlogin_store_commands_total",
		"Commands sent to the store, by command name and kind (read, write, other).",
		[]string{"command", "kind"}, nil)}
}

// Describe implements prometheus.Collector.
func (s *storeCommands) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

// Collect implements prometheus.Collector.
func (s *storeCommands) Collect(ch chan<- prometheus.Metric) {
	for name, n := range s.counter.Counts() {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.CounterValue, float64(n), name, models.CommandKind(name))
	}
}
