package guard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
)

func jwk(t *testing.T, k jose.JSONWebKey) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func set(keys ...json.RawMessage) []byte {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = string(k)
	}
	return []byte(`{"keys":[` + strings.Join(parts, ",") + `]}`)
}

func TestStaticKeys(t *testing.T) {
	k := newKeys(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := jwk(t, jose.JSONWebKey{Key: k.es.priv.Public(), KeyID: "es-1", Algorithm: "ES256", Use: "sig"})
	noAlg := jwk(t, jose.JSONWebKey{Key: k.ed.priv.Public(), KeyID: "ed-1"})
	enc := jwk(t, jose.JSONWebKey{Key: k.rs.priv.Public(), KeyID: "enc-1", Use: "enc"})
	es384 := jwk(t, jose.JSONWebKey{Key: p384.Public(), KeyID: "p384", Algorithm: "ES384", Use: "sig"})
	ps256 := jwk(t, jose.JSONWebKey{Key: k.rs.priv.Public(), KeyID: "ps-1", Algorithm: "PS256", Use: "sig"})
	noKid := jwk(t, jose.JSONWebKey{Key: k.rs.priv.Public(), Algorithm: "RS256"})
	unknownKty := json.RawMessage(`{"kty":"XYZ","kid":"x"}`)
	weakRSA := jwk(t, jose.JSONWebKey{Key: weak.Public(), KeyID: "weak", Algorithm: "RS256", Use: "sig"})
	oct := jwk(t, jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac", Algorithm: "HS256"})
	private := jwk(t, jose.JSONWebKey{Key: k.es.priv, KeyID: "priv", Algorithm: "ES256"})

	ok := []struct {
		name     string
		jwks     []byte
		has, not []string
	}{
		{"one key", set(good), []string{"es-1"}, nil},
		{"alg inferred", set(noAlg), []string{"ed-1"}, nil},
		{"skipped: enc, ES384, PS256, no kid, unknown kty", set(good, enc, es384, ps256, noKid, unknownKty), []string{"es-1"}, []string{"enc-1", "p384", "ps-1", "x"}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			src, err := guard.StaticKeys(c.jwks)
			if err != nil {
				t.Fatal(err)
			}
			for _, kid := range c.has {
				if _, err := src.Key(context.Background(), kid); err != nil {
					t.Errorf("%s: %v", kid, err)
				}
			}
			for _, kid := range c.not {
				if _, err := src.Key(context.Background(), kid); !errors.Is(err, guard.ErrKeyNotFound) {
					t.Errorf("%s: %v, want ErrKeyNotFound", kid, err)
				}
			}
		})
	}
	bad := []struct {
		name string
		jwks []byte
		want string
	}{
		{"RSA 1024", set(good, weakRSA), "under 2048"},
		{"symmetric key", set(good, oct), "not a public key"},
		{"private key", set(good, private), "not a public key"},
		{"duplicate kid", set(good, good), "appears twice"},
		{"no usable key", set(enc), "no usable"},
		{"no keys member", []byte(`{}`), `no "keys"`},
		{"not JSON", []byte(`{`), "JWKS"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := guard.StaticKeys(c.jwks); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

// jwksServer serves a JWK Set that the test can change, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	status  int
	header  http.Header
	fetches atomic.Int32
	delay   time.Duration
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: 200, header: http.Header{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status, delay := s.body, s.status, s.delay
		for k, v := range s.header {
			w.Header()[k] = v
		}
		s.mu.Unlock()
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, status
}

func TestRemoteJWKS(t *testing.T) {
	k := newKeys(t)
	srv := newJWKSServer(t, jwksOf(t, k.es))
	clock := clock.NewFake(t0)
	remote := guard.RemoteJWKS(srv.URL, guard.RemoteOptions{Now: clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := remote.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after Start, want 1", n)
	}
	for range 10 {
		if _, err := remote.Key(ctx, "es-1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("known kid fetched: %d fetches", n)
	}

	// A flood of unknown kids right after a fetch: no fetch at all
	// (MinRefetch since the last one has not passed).
	for i := range 50 {
		if _, err := remote.Key(ctx, fmt.Sprintf("forged-%d", i)); !errors.Is(err, guard.ErrKeyNotFound) {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("forged kids within MinRefetch: %d fetches, want 1", n)
	}

	// Rotation: the issuer publishes a new key; after MinRefetch, the first
	// token with its kid triggers one fetch, shared by concurrent callers.
	srv.set(jwksOf(t, k.es, k.ed), 200)
	srv.mu.Lock()
	srv.delay = 50 * time.Millisecond
	srv.mu.Unlock()
	clock.Advance(minRefetch)
	var wg sync.WaitGroup
	var failures atomic.Int32
	for range 20 {
		wg.Go(func() {
			if _, err := remote.Key(ctx, "ed-1"); err != nil {
				failures.Add(1)
			}
		})
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 2 || failures.Load() != 0 {
		t.Fatalf("rotation: %d fetches (want 2), %d failures", n, failures.Load())
	}

	// Unknown kids again: at most one fetch per MinRefetch.
	clock.Advance(minRefetch)
	for i := range 20 {
		remote.Key(ctx, fmt.Sprintf("forged-again-%d", i))
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}

	// A failed fetch keeps the previous set.
	srv.set([]byte("oops"), 500)
	clock.Advance(minRefetch)
	if _, err := remote.Key(ctx, "nope"); !errors.Is(err, guard.ErrKeyNotFound) {
		t.Fatalf("unknown kid while the server fails: %v", err)
	}
	if _, err := remote.Key(ctx, "ed-1"); err != nil {
		t.Fatalf("known key lost after a failed fetch: %v", err)
	}
	if remote.Fetches() != int64(srv.fetches.Load()) {
		t.Fatalf("Fetches() %d, server saw %d", remote.Fetches(), srv.fetches.Load())
	}
}

func TestRemoteJWKSThroughGuard(t *testing.T) {
	k := newKeys(t)
	srv := newJWKSServer(t, jwksOf(t, k.es))
	remote := guard.RemoteJWKS(srv.URL, guard.RemoteOptions{})
	g, err := guard.New(guard.Config{Issuer: testIssuer, Audience: testAudience, Keys: remote})
	if err != nil {
		t.Fatal(err)
	}
	tok := k.es.mint(t, nil, claimsAt(time.Now(), nil))
	if _, err := g.Verify(t.Context(), tok); err != nil { // first use fetches
		t.Fatal(err)
	}
	forged := (&testKey{kid: "../../etc/passwd", alg: guard.ES256, priv: k.es.priv}).mint(t, nil, claimsAt(time.Now(), nil))
	for range 5 {
		if _, err := g.Verify(t.Context(), forged); !errors.Is(err, guard.ErrSignature) {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestRemoteJWKSLimits(t *testing.T) {
	k := newKeys(t)
	t.Run("size cap", func(t *testing.T) {
		big := []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 2<<20) + `"}`)
		srv := newJWKSServer(t, big)
		err := guard.RemoteJWKS(srv.URL, guard.RemoteOptions{}).Start(t.Context())
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv := newJWKSServer(t, jwksOf(t, k.es))
		srv.delay = 300 * time.Millisecond
		err := guard.RemoteJWKS(srv.URL, guard.RemoteOptions{Client: &http.Client{Timeout: 50 * time.Millisecond}}).Start(t.Context())
		if err == nil {
			t.Fatal("no timeout")
		}
	})
	t.Run("status", func(t *testing.T) {
		srv := newJWKSServer(t, nil)
		srv.status = 404
		if err := guard.RemoteJWKS(srv.URL, guard.RemoteOptions{}).Start(t.Context()); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("got %v", err)
		}
	})
}
