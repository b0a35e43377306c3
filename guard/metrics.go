package guard

import (
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard/internal/reason"
)

// Metrics receives what a guard counts; set one as Config.Metrics. Package
// guardprom exposes it to Prometheus. Nil, the default, counts nothing.
//
// The guard calls these methods concurrently from the requests it serves,
// CacheLookup on every one: they must be safe for concurrent use and quick,
// and must not block. One Metrics serves one guard.
type Metrics interface {
	// CacheLookup reports a lookup in the verified-token cache; hit when
	// a live entry answered it. There are none with the cache off.
	CacheLookup(hit bool)
	// Verified reports a full verification that passed.
	Verified()
	// Refused reports a refused request, or a failed Verify, and why:
	// malformed, signature, expired, not_yet_valid, claims, revoked,
	// feed_unavailable, no_token, invalid_request, csrf_failed,
	// cross_origin, duplicate_cookie or refresh_failed (docs/guard.md).
	Refused(reason string)
	// FailedOpen reports a request let through while the revocation feed
	// was down, because of Config.FailOpen.
	FailedOpen()
	// Refreshed reports an in-line refresh that succeeded, or failed.
	Refreshed(ok bool)
	// Gauges is called once, by New, with a function that returns the
	// guard's state at the time of the call: the tokens in its cache, and
	// how long ago the revocation feed last reached the server (-1
	// without Revocations or before the feed's first contact). Call it
	// when the metrics are read.
	Gauges(state func() (cacheEntries int, feedLag time.Duration))
}

// reasonOf maps a Verify error to its reason.
func reasonOf(err error) reason.Reason {
	switch {
	case errors.Is(err, ErrRevoked):
		return reason.Revoked
	case errors.Is(err, ErrFeedDown):
		return reason.FeedUnavailable
	case errors.Is(err, ErrExpired):
		return reason.Expired
	case errors.Is(err, ErrNotYetValid):
		return reason.NotYetValid
	case errors.Is(err, ErrClaims):
		return reason.Claims
	case errors.Is(err, ErrSignature):
		return reason.Signature
	}
	return reason.Malformed
}

// refuse reports a refusal to the metrics, if any.
func (g *Guard) refuse(r reason.Reason) {
	if m := g.cfg.Metrics; m != nil {
		m.Refused(r.String())
	}
}

// refreshed reports an in-line refresh to the metrics, if any.
func (g *Guard) refreshed(ok bool) {
	if m := g.cfg.Metrics; m != nil {
		m.Refreshed(ok)
	}
}

// state is what Metrics.Gauges is given.
func (g *Guard) state() (cacheEntries int, feedLag time.Duration) {
	feedLag = -1
	if g.cache != nil {
		cacheEntries = g.cache.len()
	}
	if rv := g.revoked; rv != nil {
		if last := rv.LastContact(); !last.IsZero() {
			feedLag = g.now().Sub(last)
		}
	}
	return cacheEntries, feedLag
}
