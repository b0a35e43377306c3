package guard_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
)

// TestMetrics: what a guard reports to its Metrics over a run of requests.
// guardprom's TestCollector makes the same requests and checks the
// Prometheus exposition.
func TestMetrics(t *testing.T) {
	rv := guard.NewRevocations()
	e := newEnv(t, nil, func(c *guard.Config) { c.Revocations = rv })
	revset.Of(rv).Touch(e.clock.Now())
	tok := e.token(t, nil)
	revoked := e.token(t, map[string]any{"sid": "sess-gone"})
	revset.Of(rv).Add("sess-gone", e.clock.Now().Add(time.Hour), 1)
	e.clock.Advance(5 * time.Second)

	serve(e.g.Middleware, bearerReq("GET", tok))     // miss, verified
	serve(e.g.Middleware, bearerReq("GET", tok))     // hit
	serve(e.g.Middleware, bearerReq("GET", tok))     // hit
	serve(e.g.Middleware, bearerReq("GET", "a.b.c")) // miss, malformed
	serve(e.g.Middleware, bearerReq("GET", revoked)) // miss, verified, revoked
	serve(e.g.Middleware, cookieReq("GET"))          // no token
	e.clock.Advance(time.Minute)
	serve(e.g.Middleware, bearerReq("GET", tok)) // hit, feed down

	s := e.stats()
	if s.CacheHits != 3 || s.CacheMisses != 2+1 || s.CacheEntries != 2 || s.Verified != 2 || s.RevokedRefusals != 1 ||
		s.FailClosedRefusals != 1 || s.Refused["malformed"] != 1 || s.Refused["no_token"] != 1 ||
		s.FeedLag != 65*time.Second {
		t.Fatalf("stats %+v", s)
	}
}
