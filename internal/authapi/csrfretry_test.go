package authapi_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
)

// TestCSRFRetryAfterRefresh replays Angular's refresh-and-retry: its XSRF
// interceptor sets X-XSRF-TOKEN once and never overwrites a header already
// set, so a write that got 401 because the access token expired is retried
// after POST /auth/refresh with the header value it was first sent with.
// The value is the session's for its whole life, so the retry passes; it
// used to change at every refresh, and the retry got 403 csrf_failed.
func TestCSRFRetryAfterRefresh(t *testing.T) {
	g := newGH(t)
	b := g.browser()
	b.login()
	first := b.cookie("/", "XSRF-TOKEN")
	write := func() resp {
		t.Helper()
		// The header is the one the interceptor set on the first attempt.
		return b.do("POST", "/auth/logout-all", map[string]bool{"keep_current": true}, "X-XSRF-TOKEN", first, "Origin", g.Origin)
	}
	wantStatus(t, "the write, fresh", write(), 200)

	g.Clock.Advance(accessTTL + sessiontest.Leeway + time.Second)
	wantProblem(t, "the write, access token expired", write(), 401, "invalid_token")
	wantStatus(t, "the app's refresh", b.do("POST", "/auth/refresh", nil, "X-XSRF-TOKEN", first, "Origin", g.Origin), 200)
	if now := b.cookie("/", "XSRF-TOKEN"); now != first {
		t.Fatalf("the refresh changed XSRF-TOKEN from %q to %q", first, now)
	}
	wantStatus(t, "the retry with the first header", write(), 200)

	// A second refresh, and a value from another session, change nothing.
	wantStatus(t, "another refresh", b.post("/auth/refresh", nil), 200)
	wantStatus(t, "a later write", write(), 200)
	other := g.browser()
	other.login()
	if x := other.cookie("/", "XSRF-TOKEN"); x == first || x == "" {
		t.Fatalf("two sessions share the CSRF value %q", x)
	}
	wantProblem(t, "another session's value", b.do("POST", "/auth/logout-all", map[string]bool{"keep_current": true},
		"X-XSRF-TOKEN", other.cookie("/", "XSRF-TOKEN"), "Origin", g.Origin), 403, "csrf_failed")
}
