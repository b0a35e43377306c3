package guard_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/guard/internal/reason"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/token"
	"github.com/gatehouse-auth/gatehouse/internal/token/jwstest"
)

const (
	testIssuer   = "https://gatehouse.test"
	testAudience = "https://api.test"
	testCSRF     = "csrf-value-of-session-1"
)

// The defaults and bounds docs/guard.md documents, which the tests hold
// the guard to.
const (
	accessCookie  = "__Host-gh_at"
	refreshCookie = "__Secure-gh_rt"
	csrfCookie    = "XSRF-TOKEN"
	csrfHeader    = "X-XSRF-TOKEN"
	minRefetch    = 10 * time.Second // RemoteOptions.MinRefetch
	maxTokenLen   = 8 << 10
)

// problemBody is the guard's RFC 9457 problem details, as docs/guard.md
// describes them.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// testKey is a signing key of the test issuer.
type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

// keys are the test issuer's three keys and their JWKS.
type keys struct {
	es, ed, rs *testKey
	jwks       []byte
}

func newKeys(t testing.TB) *keys {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k := &keys{
		es: &testKey{kid: "es-1", alg: guard.ES256, priv: ec},
		ed: &testKey{kid: "ed-1", alg: guard.EdDSA, priv: ed},
		rs: &testKey{kid: "rs-1", alg: guard.RS256, priv: rs},
	}
	k.jwks = jwksOf(t, k.es, k.ed, k.rs)
	return k
}

func jwksOf(t testing.TB, ks ...*testKey) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range ks {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mint signs claims with go-jose, typ at+jwt unless headers say otherwise;
// headers are added to the protected header.
func (k *testKey) mint(t testing.TB, headers map[string]any, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ, ok := headers["typ"]; ok {
		opts = opts.WithType(jose.ContentType(typ.(string)))
	} else {
		opts = opts.WithType("at+jwt")
	}
	for h, v := range headers {
		if h != "typ" {
			opts = opts.WithHeader(jose.HeaderKey(h), v)
		}
	}
	var key any = jose.JSONWebKey{Key: k.priv, KeyID: k.kid}
	if ec, ok := k.priv.(*ecdsa.PrivateKey); ok {
		key = token.ES256Signer(ec, k.kid) // low S, as Gatehouse signs and the guard insists
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// signRaw signs an exact header and payload, for headers go-jose would
// not write (duplicates, odd algorithms).
func (k *testKey) signRaw(t testing.TB, header string, payload []byte) string {
	t.Helper()
	raw, err := jwstest.Compact(k.priv, header, payload)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func decodeB64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func csrfHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// del, as a claim value, removes the claim.
type delClaim struct{}

var del = delClaim{}

// claimsAt returns valid claims for session sess-1 at now, changed by
// over (a del value removes a claim).
func claimsAt(now time.Time, over map[string]any) map[string]any {
	c := map[string]any{
		"iss":                testIssuer,
		"aud":                []string{testAudience},
		"sub":                "user-1",
		"sid":                "sess-1",
		"client_id":          "gatehouse",
		"exp":                now.Add(5 * time.Minute).Unix(),
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"auth_time":          now.Add(-time.Minute).Unix(),
		"jti":                "jti-" + rand.Text(),
		"preferred_username": "alice",
		"roles":              []string{"editor"},
		"scope":              "api read",
		"csrf_hash":          csrfHash(testCSRF),
	}
	for k, v := range over {
		if v == del {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// env is a guard over the test keys with a fake clock.
type env struct {
	*keys
	clock   *clock.Fake
	g       *guard.Guard
	log     *countingHandler
	metrics *countingMetrics // what g reports
}

func newEnv(t testing.TB, k *keys, change func(*guard.Config)) *env {
	t.Helper()
	if k == nil {
		k = newKeys(t)
	}
	src, err := guard.StaticKeys(k.jwks)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{keys: k, clock: clock.NewFake(t0), log: &countingHandler{}, metrics: newCountingMetrics(t)}
	cfg := guard.Config{Issuer: testIssuer, Audience: testAudience, Keys: src, Now: e.clock.Now,
		AllowedOrigins: []string{"https://app.test"}, Log: slog.New(e.log), Metrics: e.metrics}
	if change != nil {
		change(&cfg)
	}
	if e.g, err = guard.New(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// token mints a valid ES256 token now, with claims changed by over.
func (e *env) token(t testing.TB, over map[string]any) string {
	return e.es.mint(t, nil, claimsAt(e.clock.Now(), over))
}

// stats returns what the guard has reported to its metrics.
func (e *env) stats() stats { return e.metrics.stats() }

// countingMetrics is a guard.Metrics that counts what it is told.
type countingMetrics struct {
	t                            testing.TB
	hits, misses, verified, open atomic.Uint64
	refreshes, refreshFailures   atomic.Uint64
	refused                      [reason.N]atomic.Uint64
	state                        func() (int, time.Duration)
}

func newCountingMetrics(t testing.TB) *countingMetrics { return &countingMetrics{t: t} }

func (m *countingMetrics) CacheLookup(hit bool) {
	if hit {
		m.hits.Add(1)
	} else {
		m.misses.Add(1)
	}
}
func (m *countingMetrics) Verified()   { m.verified.Add(1) }
func (m *countingMetrics) FailedOpen() { m.open.Add(1) }
func (m *countingMetrics) Refused(s string) {
	r, ok := reason.Parse(s)
	if !ok {
		m.t.Errorf("refused for %q, which is not a documented reason", s)
		return
	}
	m.refused[r].Add(1)
}
func (m *countingMetrics) Refreshed(ok bool) {
	if ok {
		m.refreshes.Add(1)
	} else {
		m.refreshFailures.Add(1)
	}
}
func (m *countingMetrics) Gauges(state func() (int, time.Duration)) {
	if m.state != nil {
		m.t.Error("Gauges called twice")
	}
	m.state = state
}

// stats is a snapshot of a countingMetrics.
type stats struct {
	CacheHits, CacheMisses uint64
	CacheEntries           int
	Verified               uint64
	// Refused counts refusals by reason; every reason is present.
	Refused            map[string]uint64
	RevokedRefusals    uint64 // Refused["revoked"]
	FeedLag            time.Duration
	FailClosedRefusals uint64 // Refused["feed_unavailable"]
	FailOpenPasses     uint64
	Refreshes          uint64
	RefreshFailures    uint64
}

func (m *countingMetrics) stats() stats {
	s := stats{CacheHits: m.hits.Load(), CacheMisses: m.misses.Load(), Verified: m.verified.Load(),
		Refused: make(map[string]uint64, reason.N), FailOpenPasses: m.open.Load(),
		Refreshes: m.refreshes.Load(), RefreshFailures: m.refreshFailures.Load()}
	for r := range reason.N {
		s.Refused[r.String()] = m.refused[r].Load()
	}
	s.RevokedRefusals, s.FailClosedRefusals = s.Refused["revoked"], s.Refused["feed_unavailable"]
	s.CacheEntries, s.FeedLag = m.state()
	return s
}

// countingHandler is a slog handler counting records, and failing the
// test if a record contains a token-like value is left to the callers.
type countingHandler struct {
	mu      sync.Mutex
	records []string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.records = append(h.records, b.String())
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.records)
}

// reply is a recorded response.
type reply struct {
	status    int
	challenge string
	code      string
	body      string
	header    http.Header
	principal *guard.Principal
}

// serve sends r through the guard's middleware into a handler that
// records the principal.
func serve(h func(http.Handler) http.Handler, r *http.Request) reply {
	var got *guard.Principal
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = guard.PrincipalFrom(r.Context())
		w.WriteHeader(http.StatusOK)
	})
	rec := httptest.NewRecorder()
	h(next).ServeHTTP(rec, r)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	out := reply{status: res.StatusCode, challenge: res.Header.Get("WWW-Authenticate"), body: string(body),
		header: res.Header, principal: got}
	if res.StatusCode != http.StatusOK {
		var p problemBody
		if err := json.Unmarshal(body, &p); err == nil {
			out.code = p.Code
			if p.Type != "urn:gatehouse:problem:"+p.Code || p.Status != res.StatusCode {
				out.code = "bad problem body: " + string(body)
			}
		}
		if res.Header.Get("Content-Type") != "application/problem+json" || res.Header.Get("Cache-Control") != "no-store" {
			out.code = "bad problem headers"
		}
	}
	return out
}

func bearerReq(method, tok string) *http.Request {
	r := httptest.NewRequest(method, "https://api.test/things", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// cookieReq is a browser-like cookie request; cookies are name=value.
func cookieReq(method string, cookies ...string) *http.Request {
	r := httptest.NewRequest(method, "https://api.test/things", nil)
	if len(cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	if !(method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions) {
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	return r
}

// Exact WWW-Authenticate values.
const (
	chNone    = `Bearer`
	chRequest = `Bearer error="invalid_request"`
	chExpired = `Bearer error="invalid_token", error_description="the access token expired"`
	chNotYet  = `Bearer error="invalid_token", error_description="the access token is not valid yet"`
	chClaims  = `Bearer error="invalid_token", error_description="the access token's claims are not acceptable"`
	chSig     = `Bearer error="invalid_token", error_description="the access token's signature or key is not valid"`
	chMalform = `Bearer error="invalid_token", error_description="the access token is malformed"`
	chRevoked = `Bearer error="invalid_token", error_description="the session has ended"`
	chRefresh = `Bearer error="invalid_token", error_description="the access token expired and the session could not be refreshed"`
)
