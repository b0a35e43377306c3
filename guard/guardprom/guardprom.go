// Package guardprom exposes a guard's metrics to Prometheus, as the
// gatehouse_guard_* metrics of docs/guard.md. It is a package of its own
// so that a resource server that wants no Prometheus does not link it.
//
//	m := guardprom.New()
//	g, err := guard.New(guard.Config{..., Metrics: m})
//	prometheus.MustRegister(m)
package guardprom

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/guard/internal/reason"
)

// Collector counts what one guard reports (it is the guard's
// Config.Metrics) and is the prometheus.Collector that exposes it.
type Collector struct {
	hits, misses, verified, failOpen atomic.Uint64
	refreshed, refreshFailed         atomic.Uint64
	refused                          [reason.N]atomic.Uint64
	state                            atomic.Pointer[func() (int, time.Duration)]

	dHits, dMisses, dEntries, dVerified, dRefused, dFeedLag, dFeedDown, dRefresh *prometheus.Desc
}

var _ guard.Metrics = (*Collector)(nil)

// New returns a Collector for one guard: set it as the guard's
// Config.Metrics and register it with a prometheus.Registerer.
func New() *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("gatehouse_guard_"+name, help, labels, nil)
	}
	return &Collector{
		dHits:     d("cache_hits_total", "Requests answered from the verified-token cache."),
		dMisses:   d("cache_misses_total", "Cache lookups that found no live entry."),
		dEntries:  d("cache_entries", "Tokens in the verified-token cache."),
		dVerified: d("verified_total", "Full token verifications that passed."),
		dRefused:  d("refused_total", "Requests refused, by reason.", "reason"),
		dFeedLag:  d("revocation_feed_lag_seconds", "Time since the revocation feed last reached the server (-1: never, or no revocation set)."),
		dFeedDown: d("revocation_feed_down_total", "Requests met while the revocation feed was down, by outcome.", "outcome"),
		dRefresh:  d("refresh_total", "In-line refreshes, by result.", "result"),
	}
}

// CacheLookup implements guard.Metrics.
func (c *Collector) CacheLookup(hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

// Verified implements guard.Metrics.
func (c *Collector) Verified() { c.verified.Add(1) }

// Refused implements guard.Metrics. A reason this package does not know
// (from a newer guard) is not counted.
func (c *Collector) Refused(s string) {
	if r, ok := reason.Parse(s); ok {
		c.refused[r].Add(1)
	}
}

// FailedOpen implements guard.Metrics.
func (c *Collector) FailedOpen() { c.failOpen.Add(1) }

// Refreshed implements guard.Metrics.
func (c *Collector) Refreshed(ok bool) {
	if ok {
		c.refreshed.Add(1)
	} else {
		c.refreshFailed.Add(1)
	}
}

// Gauges implements guard.Metrics.
func (c *Collector) Gauges(state func() (cacheEntries int, feedLag time.Duration)) {
	c.state.Store(&state)
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.dHits, c.dMisses, c.dEntries, c.dVerified, c.dRefused, c.dFeedLag, c.dFeedDown, c.dRefresh} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Every reason and outcome has
// its series, zero or not.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	entries, lag := 0, -1.0
	if state := c.state.Load(); state != nil {
		n, l := (*state)()
		entries = n
		if l >= 0 {
			lag = l.Seconds()
		}
	}
	counter(c.dHits, c.hits.Load())
	counter(c.dMisses, c.misses.Load())
	ch <- prometheus.MustNewConstMetric(c.dEntries, prometheus.GaugeValue, float64(entries))
	counter(c.dVerified, c.verified.Load())
	for r := range reason.N {
		counter(c.dRefused, c.refused[r].Load(), r.String())
	}
	ch <- prometheus.MustNewConstMetric(c.dFeedLag, prometheus.GaugeValue, lag)
	counter(c.dFeedDown, c.refused[reason.FeedUnavailable].Load(), "refused")
	counter(c.dFeedDown, c.failOpen.Load(), "passed")
	counter(c.dRefresh, c.refreshed.Load(), "ok")
	counter(c.dRefresh, c.refreshFailed.Load(), "failed")
}
