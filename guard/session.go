package guard

import "time"

// checkSession refuses a revoked session, and any session while the
// revocation feed is silent (unless FailOpen).
func (g *Guard) checkSession(p *Principal, now time.Time) error {
	rv := g.revoked
	if rv == nil {
		return nil
	}
	if rv.Revoked(p.SessionID) {
		return ErrRevoked
	}
	last := rv.LastContact()
	since := g.started
	if !last.IsZero() {
		since = last.UnixNano()
	}
	if lag := now.UnixNano() - since; lag > int64(g.cfg.FeedMaxLag) {
		return g.feedDown(now, time.Duration(lag), last.IsZero())
	}
	return nil
}

// feedDown logs (at most once per FeedMaxLag), counts, and fails closed
// or open.
func (g *Guard) feedDown(now time.Time, lag time.Duration, never bool) error {
	n := now.UnixNano()
	prev := g.feedLog.Load()
	if n-prev >= int64(g.cfg.FeedMaxLag) && g.feedLog.CompareAndSwap(prev, n) {
		msg := "guard: revocation feed unavailable; refusing every request (fail closed)"
		if g.cfg.FailOpen {
			msg = "guard: revocation feed unavailable; letting requests through (FailOpen)"
		}
		g.cfg.Log.Warn(msg, "lag", lag.Round(time.Second), "never_contacted", never, "max_lag", g.cfg.FeedMaxLag)
	}
	if g.cfg.FailOpen {
		if m := g.cfg.Metrics; m != nil {
			m.FailedOpen()
		}
		return nil
	}
	return ErrFeedDown
}
