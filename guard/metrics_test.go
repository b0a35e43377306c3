package guard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-auth/gatehouse/guard"
)

func TestMetrics(t *testing.T) {
	rv := guard.NewRevocations()
	e := newEnv(t, nil, func(c *guard.Config) { c.Revocations = rv })
	rv.Touch(e.clock.Now())
	tok := e.token(t, nil)
	revoked := e.token(t, map[string]any{"sid": "sess-gone"})
	rv.Add("sess-gone", e.clock.Now().Add(time.Hour), 1)
	e.clock.Advance(5 * time.Second)

	serve(e.g.Middleware, bearerReq("GET", tok))     // miss, verified
	serve(e.g.Middleware, bearerReq("GET", tok))     // hit
	serve(e.g.Middleware, bearerReq("GET", tok))     // hit
	serve(e.g.Middleware, bearerReq("GET", "a.b.c")) // miss, malformed
	serve(e.g.Middleware, bearerReq("GET", revoked)) // miss, verified, revoked
	serve(e.g.Middleware, cookieReq("GET"))          // no token
	e.clock.Advance(time.Minute)
	serve(e.g.Middleware, bearerReq("GET", tok)) // hit, feed down

	s := e.g.Stats()
	if s.CacheHits != 3 || s.CacheMisses != 2+1 || s.CacheEntries != 2 || s.Verified != 2 || s.RevokedRefusals != 1 ||
		s.FailClosedRefusals != 1 || s.Refused[guard.ReasonMalformed] != 1 || s.Refused[guard.ReasonNoToken] != 1 ||
		s.FeedLag != 65*time.Second {
		t.Fatalf("stats %+v", s)
	}

	c := e.g.Collector()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP gatehouse_guard_cache_hits_total Requests answered from the verified-token cache.
# TYPE gatehouse_guard_cache_hits_total counter
gatehouse_guard_cache_hits_total 3
# HELP gatehouse_guard_cache_entries Tokens in the verified-token cache.
# TYPE gatehouse_guard_cache_entries gauge
gatehouse_guard_cache_entries 2
# HELP gatehouse_guard_verified_total Full token verifications that passed.
# TYPE gatehouse_guard_verified_total counter
gatehouse_guard_verified_total 2
# HELP gatehouse_guard_revocation_feed_lag_seconds Time since the revocation feed last reached the server (-1: never, or no revocation set).
# TYPE gatehouse_guard_revocation_feed_lag_seconds gauge
gatehouse_guard_revocation_feed_lag_seconds 65
# HELP gatehouse_guard_revocation_feed_down_total Requests met while the revocation feed was down, by outcome.
# TYPE gatehouse_guard_revocation_feed_down_total counter
gatehouse_guard_revocation_feed_down_total{outcome="passed"} 0
gatehouse_guard_revocation_feed_down_total{outcome="refused"} 1
# HELP gatehouse_guard_refused_total Requests refused, by reason.
# TYPE gatehouse_guard_refused_total counter
gatehouse_guard_refused_total{reason="claims"} 0
gatehouse_guard_refused_total{reason="cross_origin"} 0
gatehouse_guard_refused_total{reason="csrf_failed"} 0
gatehouse_guard_refused_total{reason="duplicate_cookie"} 0
gatehouse_guard_refused_total{reason="expired"} 0
gatehouse_guard_refused_total{reason="feed_unavailable"} 1
gatehouse_guard_refused_total{reason="invalid_request"} 0
gatehouse_guard_refused_total{reason="malformed"} 1
gatehouse_guard_refused_total{reason="no_token"} 1
gatehouse_guard_refused_total{reason="not_yet_valid"} 0
gatehouse_guard_refused_total{reason="refresh_failed"} 0
gatehouse_guard_refused_total{reason="revoked"} 1
gatehouse_guard_refused_total{reason="signature"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_guard_cache_hits_total",
		"gatehouse_guard_cache_entries", "gatehouse_guard_verified_total", "gatehouse_guard_revocation_feed_lag_seconds",
		"gatehouse_guard_revocation_feed_down_total", "gatehouse_guard_refused_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "gatehouse_guard_refused_total"); n != len(s.Refused) {
		t.Fatalf("%d refused series, want %d", n, len(s.Refused))
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
