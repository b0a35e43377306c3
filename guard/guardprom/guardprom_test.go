package guardprom_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/guard/guardprom"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
)

const (
	issuer   = "https://auth.example.com"
	audience = "https://api.example.com"
)

// testIssuer stands in for Gatehouse: an Ed25519 key, its JWKS, tokens.
type testIssuer struct {
	key  ed25519.PrivateKey
	jwks []byte
}

func newIssuer(t testing.TB) *testIssuer {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "key-1", Algorithm: "EdDSA", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return &testIssuer{key: key, jwks: jwks}
}

func (i *testIssuer) keys(t testing.TB) guard.KeySource {
	t.Helper()
	keys, err := guard.StaticKeys(i.jwks)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// token is a valid access token of session sid, issued at now.
func (i *testIssuer) token(t testing.TB, sid string, now time.Time) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: i.key, KeyID: "key-1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": issuer, "aud": audience, "sub": "user-1", "sid": sid, "jti": "jti-" + rand.Text(),
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func get(h http.Handler, auth string) {
	r := httptest.NewRequest("GET", "https://api.example.com/things", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	h.ServeHTTP(httptest.NewRecorder(), r)
}

// TestCollector: the exposition, metric for metric, after the requests of
// the guard's TestMetrics; the names, help texts and labels are what
// dashboards use (docs/guard.md).
func TestCollector(t *testing.T) {
	iss := newIssuer(t)
	clk := clock.NewFake(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	rv := guard.NewRevocations()
	c := guardprom.New()
	g, err := guard.New(guard.Config{Issuer: issuer, Audience: audience, Keys: iss.keys(t), Revocations: rv,
		Metrics: c, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	revset.Of(rv).Touch(clk.Now())
	tok := iss.token(t, "sess-1", clk.Now())
	revoked := iss.token(t, "sess-gone", clk.Now())
	revset.Of(rv).Add("sess-gone", clk.Now().Add(time.Hour), 1)
	clk.Advance(5 * time.Second)

	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	get(h, "Bearer "+tok)     // miss, verified
	get(h, "Bearer "+tok)     // hit
	get(h, "Bearer "+tok)     // hit
	get(h, "Bearer a.b.c")    // miss, malformed
	get(h, "Bearer "+revoked) // miss, verified, revoked
	get(h, "")                // no token
	clk.Advance(time.Minute)
	get(h, "Bearer "+tok) // hit, feed down

	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP gatehouse_guard_cache_hits_total Requests answered from the verified-token cache.
# TYPE gatehouse_guard_cache_hits_total counter
gatehouse_guard_cache_hits_total 3
# HELP gatehouse_guard_cache_misses_total Cache lookups that found no live entry.
# TYPE gatehouse_guard_cache_misses_total counter
gatehouse_guard_cache_misses_total 3
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
# HELP gatehouse_guard_refresh_total In-line refreshes, by result.
# TYPE gatehouse_guard_refresh_total counter
gatehouse_guard_refresh_total{result="failed"} 0
gatehouse_guard_refresh_total{result="ok"} 0
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
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "gatehouse_guard_refused_total"); n != 13 {
		t.Fatalf("%d refused series, want one per reason, 13", n)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// TestCollectorAlone: a Collector no guard reports to exposes every
// series, zero, and -1 for the feed lag.
func TestCollectorAlone(t *testing.T) {
	c := guardprom.New()
	if n := testutil.CollectAndCount(c); n != 4+13+1+2+2 {
		t.Fatalf("%d series, want 22", n)
	}
	want := `
# HELP gatehouse_guard_cache_entries Tokens in the verified-token cache.
# TYPE gatehouse_guard_cache_entries gauge
gatehouse_guard_cache_entries 0
# HELP gatehouse_guard_revocation_feed_lag_seconds Time since the revocation feed last reached the server (-1: never, or no revocation set).
# TYPE gatehouse_guard_revocation_feed_lag_seconds gauge
gatehouse_guard_revocation_feed_lag_seconds -1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "gatehouse_guard_cache_entries",
		"gatehouse_guard_revocation_feed_lag_seconds"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerifyWarm is the guard's BenchmarkVerifyWarm with a Collector
// as its Metrics: the cost of counting on the cache-hit path.
func BenchmarkVerifyWarm(b *testing.B) {
	iss := newIssuer(b)
	g, err := guard.New(guard.Config{Issuer: issuer, Audience: audience, Keys: iss.keys(b), Metrics: guardprom.New()})
	if err != nil {
		b.Fatal(err)
	}
	tok := iss.token(b, "sess-1", time.Now())
	ctx := context.Background()
	if _, err := g.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
