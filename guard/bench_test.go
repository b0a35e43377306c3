package guard_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
)

// Run: go test -run '^$' -bench . -benchmem -count 3 ./guard/
// Results and what they mean: docs/benchmarks.md, "Guard verification".

// benchEnv is a guard at real time (tokens stay valid through the run).
func benchEnv(b *testing.B, k *keys, change func(*guard.Config)) *env {
	e := newEnv(b, k, func(c *guard.Config) {
		c.Now = time.Now
		c.Metrics = nil // the default
		if change != nil {
			change(c)
		}
	})
	return e
}

func benchToken(b *testing.B, k *testKey) string {
	return k.mint(b, nil, claimsAt(time.Now(), nil))
}

func BenchmarkVerifyCold(b *testing.B) {
	k := newKeys(b)
	e := benchEnv(b, k, func(c *guard.Config) { c.CacheEntries = -1 })
	for _, key := range []*testKey{k.es, k.ed, k.rs} {
		tok := benchToken(b, key)
		b.Run(key.alg, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.g.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// splitSig returns a token's signing input and decoded signature.
func splitSig(b *testing.B, tok string) ([]byte, []byte) {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	return []byte(tok[:i]), sig
}

// BenchmarkRawECDSA is the floor for ES256: SHA-256 of the signing input
// and crypto/ecdsa.Verify, nothing else.
func BenchmarkRawECDSA(b *testing.B) {
	k := newKeys(b)
	input, sig := splitSig(b, benchToken(b, k.es))
	pub := k.es.priv.Public().(*ecdsa.PublicKey)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256(input)
		if !ecdsa.Verify(pub, sum[:], r, s) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkRawEd25519 is the floor for EdDSA (Ed25519 hashes internally).
func BenchmarkRawEd25519(b *testing.B) {
	k := newKeys(b)
	input, sig := splitSig(b, benchToken(b, k.ed))
	pub := k.ed.priv.Public().(ed25519.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, input, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkRawRSA is the floor for RS256: SHA-256 and PKCS#1 v1.5.
func BenchmarkRawRSA(b *testing.B) {
	k := newKeys(b)
	input, sig := splitSig(b, benchToken(b, k.rs))
	pub := k.rs.priv.Public().(*rsa.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyWarm is a cache hit, revocation off.
func BenchmarkVerifyWarm(b *testing.B) {
	k := newKeys(b)
	benchWarm(b, k, benchEnv(b, k, nil))
}

// benchWarm times Verify of one token already in e's cache.
func benchWarm(b *testing.B, k *keys, e *env) {
	tok := benchToken(b, k.es)
	ctx := context.Background()
	if _, err := e.g.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.g.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGolangJWT is the reference a user would otherwise pick:
// golang-jwt/jwt/v5 parsing and verifying the same ES256 token, with
// issuer, audience and expiry validation.
func BenchmarkGolangJWT(b *testing.B) {
	k := newKeys(b)
	tok := benchToken(b, k.es)
	pub := k.es.priv.Public()
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(testIssuer),
		jwt.WithAudience(testAudience), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second))
	keyFunc := func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != k.es.kid {
			return nil, fmt.Errorf("unknown kid")
		}
		return pub, nil
	}
	b.ReportAllocs()
	for b.Loop() {
		var c jwt.RegisteredClaims
		if _, err := parser.ParseWithClaims(tok, &c, keyFunc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevokedLookup is the warm path with a revocation set of
// 10,000 sessions and a fresh feed: the cost revocation adds to a hit.
func BenchmarkRevokedLookup(b *testing.B) {
	k := newKeys(b)
	rv := guard.NewRevocations()
	until := time.Now().Add(time.Hour)
	for i := range 10_000 {
		revset.Of(rv).Add(fmt.Sprintf("revoked-%d", i), until, int64(i+1))
	}
	revset.Of(rv).Touch(time.Now().Add(time.Hour)) // the feed stays fresh through the run
	benchWarm(b, k, benchEnv(b, k, func(c *guard.Config) { c.Revocations = rv }))
}

// BenchmarkMiddleware is a whole Bearer request through the middleware
// into an empty handler, warm cache.
func BenchmarkMiddleware(b *testing.B) {
	k := newKeys(b)
	e := benchEnv(b, k, nil)
	tok := benchToken(b, k.es)
	h := e.g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "https://api.test/things", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkColdOverRaw measures the ratio the goal is stated in: each
// iteration runs one cold verification and one raw signature check of the
// same token, back to back, and reports the ratio of their summed times.
// Pairing them cancels the drift of a shared machine's load, which
// separate benchmarks minutes apart do not.
func BenchmarkColdOverRaw(b *testing.B) {
	k := newKeys(b)
	e := benchEnv(b, k, func(c *guard.Config) { c.CacheEntries = -1 })
	for _, key := range []*testKey{k.es, k.ed, k.rs} {
		tok := benchToken(b, key)
		input, sig := splitSig(b, tok)
		var raw func() bool
		switch pub := key.priv.Public().(type) {
		case *ecdsa.PublicKey:
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			raw = func() bool { sum := sha256.Sum256(input); return ecdsa.Verify(pub, sum[:], r, s) }
		case ed25519.PublicKey:
			raw = func() bool { return ed25519.Verify(pub, input, sig) }
		case *rsa.PublicKey:
			raw = func() bool {
				sum := sha256.Sum256(input)
				return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
			}
		}
		b.Run(key.alg, func(b *testing.B) {
			ctx := context.Background()
			var cold, bare time.Duration
			for b.Loop() {
				t := time.Now()
				if _, err := e.g.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if !raw() {
					b.Fatal("bad signature")
				}
				cold += t1.Sub(t)
				bare += time.Since(t1)
			}
			b.ReportMetric(float64(cold)/float64(bare), "cold/raw")
		})
	}
}
