package guard

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Refusal reasons, the label values of Stats.Refused and of the
// gatehouse_guard_refused_total metric.
const (
	ReasonMalformed       = "malformed"
	ReasonSignature       = "signature"
	ReasonExpired         = "expired"
	ReasonNotYetValid     = "not_yet_valid"
	ReasonClaims          = "claims"
	ReasonRevoked         = "revoked"
	ReasonFeedUnavailable = "feed_unavailable"
	ReasonNoToken         = "no_token"
	ReasonInvalidRequest  = "invalid_request"
	ReasonCSRF            = "csrf_failed"
	ReasonCrossOrigin     = "cross_origin"
	ReasonDuplicateCookie = "duplicate_cookie"
	ReasonRefreshFailed   = "refresh_failed"
)

type reason int

const (
	rMalformed reason = iota
	rSignature
	rExpired
	rNotYetValid
	rClaims
	rRevoked
	rFeed
	rNoToken
	rInvalidRequest
	rCSRF
	rCrossOrigin
	rDuplicateCookie
	rRefreshFailed
	numReasons
)

func (r reason) String() string {
	return [numReasons]string{ReasonMalformed, ReasonSignature, ReasonExpired, ReasonNotYetValid, ReasonClaims,
		ReasonRevoked, ReasonFeedUnavailable, ReasonNoToken, ReasonInvalidRequest, ReasonCSRF, ReasonCrossOrigin,
		ReasonDuplicateCookie, ReasonRefreshFailed}[r]
}

// reasonOf maps a Verify error to its reason.
func reasonOf(err error) reason {
	switch {
	case errors.Is(err, ErrRevoked):
		return rRevoked
	case errors.Is(err, ErrFeedDown):
		return rFeed
	case errors.Is(err, ErrExpired):
		return rExpired
	case errors.Is(err, ErrNotYetValid):
		return rNotYetValid
	case errors.Is(err, ErrClaims):
		return rClaims
	case errors.Is(err, ErrSignature):
		return rSignature
	}
	return rMalformed
}

type counters struct {
	verified       atomic.Uint64
	refused        [numReasons]atomic.Uint64
	feedOpen       atomic.Uint64
	refreshes      atomic.Uint64
	refreshFailure atomic.Uint64
}

func (c *counters) refuse(r reason) { c.refused[r].Add(1) }

// Stats is a snapshot of a guard's counters.
type Stats struct {
	CacheHits    uint64 // requests answered from the verified-token cache
	CacheMisses  uint64 // lookups that had to verify (or failed)
	CacheEntries int    // tokens cached now
	// Verified counts full verifications that passed (cache misses).
	Verified uint64
	// Refused counts refused requests by reason (the Reason constants);
	// every reason is present, zero or not.
	Refused map[string]uint64
	// RevokedRefusals counts requests refused because their session was
	// revoked (also in Refused["revoked"]).
	RevokedRefusals uint64
	// FeedLag is how long ago the revocation feed last reached the
	// server; -1 when there is no revocation set or it never has.
	FeedLag time.Duration
	// FailClosedRefusals counts requests refused because the feed was
	// down (also in Refused["feed_unavailable"]); FailOpenPasses counts
	// requests let through in that state because of FailOpen.
	FailClosedRefusals uint64
	FailOpenPasses     uint64
	// Refreshes and RefreshFailures count in-line refreshes.
	Refreshes       uint64
	RefreshFailures uint64
}

// Stats returns a snapshot of the guard's counters.
func (g *Guard) Stats() Stats {
	s := Stats{
		Verified:        g.counters.verified.Load(),
		Refused:         make(map[string]uint64, numReasons),
		FeedLag:         -1,
		FailOpenPasses:  g.counters.feedOpen.Load(),
		Refreshes:       g.counters.refreshes.Load(),
		RefreshFailures: g.counters.refreshFailure.Load(),
	}
	if g.cache != nil {
		s.CacheHits, s.CacheMisses, s.CacheEntries = g.cache.stats()
	}
	for r := reason(0); r < numReasons; r++ {
		s.Refused[r.String()] = g.counters.refused[r].Load()
	}
	s.RevokedRefusals = s.Refused[ReasonRevoked]
	s.FailClosedRefusals = s.Refused[ReasonFeedUnavailable]
	if rv := g.cfg.Revocations; rv != nil {
		if last := rv.LastContact(); !last.IsZero() {
			s.FeedLag = g.now().Sub(last)
		}
	}
	return s
}

// Collector returns a Prometheus collector exposing Stats, to register
// with a prometheus.Registerer. Each call returns a new collector; register
// one per guard.
func (g *Guard) Collector() prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("gatehouse_guard_"+name, help, labels, nil)
	}
	return &collector{g: g,
		hits:     d("cache_hits_total", "Requests answered from the verified-token cache."),
		misses:   d("cache_misses_total", "Cache lookups that found no live entry."),
		entries:  d("cache_entries", "Tokens in the verified-token cache."),
		verified: d("verified_total", "Full token verifications that passed."),
		refused:  d("refused_total", "Requests refused, by reason.", "reason"),
		feedLag:  d("revocation_feed_lag_seconds", "Time since the revocation feed last reached the server (-1: never, or no revocation set)."),
		feedDown: d("revocation_feed_down_total", "Requests met while the revocation feed was down, by outcome.", "outcome"),
		refresh:  d("refresh_total", "In-line refreshes, by result.", "result"),
	}
}

type collector struct {
	g                                                                    *Guard
	hits, misses, entries, verified, refused, feedLag, feedDown, refresh *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.entries, c.verified, c.refused, c.feedLag, c.feedDown, c.refresh} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.g.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.hits, s.CacheHits)
	counter(c.misses, s.CacheMisses)
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(s.CacheEntries))
	counter(c.verified, s.Verified)
	for r := reason(0); r < numReasons; r++ {
		counter(c.refused, s.Refused[r.String()], r.String())
	}
	lag := -1.0
	if s.FeedLag >= 0 {
		lag = s.FeedLag.Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.feedLag, prometheus.GaugeValue, lag)
	counter(c.feedDown, s.FailClosedRefusals, "refused")
	counter(c.feedDown, s.FailOpenPasses, "passed")
	counter(c.refresh, s.Refreshes, "ok")
	counter(c.refresh, s.RefreshFailures, "failed")
}
