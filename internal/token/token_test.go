package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

const (
	iss = sessiontest.Issuer
	ttl = sessiontest.AccessTTL
)

type fixture struct {
	clock    *clock.Fake
	keys     *token.Keyring
	issuer   *token.Issuer
	verifier *token.Verifier
	db       *sqlite.DB
}

func newFixture(t testing.TB, alg string) *fixture {
	t.Helper()
	f := sessiontest.New(t, sessiontest.Options{Alg: alg})
	return &fixture{clock: f.Clock, keys: f.Keys, issuer: f.Issuer, verifier: f.Verifier, db: f.DB}
}

var subject = token.Subject{UserID: "u1", Username: "alice", SessionID: "s1", ClientID: "gatehouse",
	AuthTime: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Roles: []string{"reader"}}

func (f *fixture) issue(t testing.TB) string {
	t.Helper()
	raw, _, _, err := f.issuer.Issue(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRoundTripEveryAlgorithm(t *testing.T) {
	for _, alg := range token.Algorithms {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			c, err := f.verifier.Verify(context.Background(), f.issue(t))
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "u1" || c.SessionID != "s1" || c.Issuer != iss || c.Roles[0] != "reader" {
				t.Fatalf("claims %+v", c)
			}
		})
	}
}

func b64(v any) string {
	j, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(j)
}

// resign builds a token with the given header and claims, signed by the
// fixture's real key, so that only the property under test is wrong.
func (f *fixture) resign(t *testing.T, mutate func(hdr, claims map[string]any)) string {
	t.Helper()
	raw := f.issue(t)
	parts := strings.Split(raw, ".")
	var hdr, claims map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(h, &hdr)
	json.Unmarshal(p, &claims)
	mutate(hdr, claims)
	opts := &jose.SignerOptions{}
	for k, v := range hdr {
		if k != "alg" && k != "kid" {
			opts.WithHeader(jose.HeaderKey(k), v)
		}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: privateOf(t, f), KeyID: hdr["kid"].(string)}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func privateOf(t *testing.T, f *fixture) *ecdsa.PrivateKey {
	t.Helper()
	keys, err := f.db.SigningKeys(context.Background())
	if err != nil || len(keys) == 0 {
		t.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(keys[len(keys)-1].Private)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*ecdsa.PrivateKey)
}

// TestVerifyRejects: each token is wrong in exactly one way.
func TestVerifyRejects(t *testing.T) {
	f := newFixture(t, token.ES256)
	good := f.issue(t)
	parts := strings.Split(good, ".")
	pub := privateOf(t, f).Public().(*ecdsa.PublicKey)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)
	hs := func(key []byte) string {
		h := b64(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kidOf(good)})
		m := hmac.New(sha256.New, key)
		m.Write([]byte(h + "." + parts[1]))
		return h + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	foreign, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: otherKey, KeyID: kidOf(good)}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	foreignTok, _ := jwt.Signed(foreign).Claims(map[string]any{"iss": iss, "aud": iss, "sub": "u1", "sid": "s1", "jti": "j",
		"exp": f.clock.Now().Add(time.Minute).Unix(), "iat": f.clock.Now().Unix()}).Serialize()

	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", token.ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], token.ErrMalformed},
		{"extra dots", good + "." + parts[2], token.ErrMalformed},
		{"oversize", good + strings.Repeat("A", token.MaxLen), token.ErrMalformed},
		{"stripped signature", parts[0] + "." + parts[1] + ".", token.ErrSignature},
		{"alg none", b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kidOf(good)}) + "." + parts[1] + ".", token.ErrMalformed},
		{"alg NoNe", b64(map[string]any{"alg": "NoNe", "typ": "at+jwt", "kid": kidOf(good)}) + "." + parts[1] + ".", token.ErrMalformed},
		{"HS256 with the public key as secret", hs(pubDER), token.ErrMalformed},
		{"tampered payload", parts[0] + "." + b64(map[string]any{"iss": iss, "aud": iss, "sub": "admin", "sid": "s1", "jti": "j",
			"exp": 9999999999, "iat": 1}) + "." + parts[2], token.ErrSignature},
		{"signature of another key under our kid", foreignTok, token.ErrSignature},
		{"psychic signature r=s=0", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), token.ErrSignature},
		{"unknown kid", f.resign(t, func(h, _ map[string]any) { h["kid"] = "nope" }), token.ErrSignature},
		{"kid path traversal", f.resign(t, func(h, _ map[string]any) { h["kid"] = "../../../../dev/null" }), token.ErrSignature},
		{"kid SQL", f.resign(t, func(h, _ map[string]any) { h["kid"] = "' OR '1'='1" }), token.ErrSignature},
		{"wrong typ (an ID token)", f.resign(t, func(h, _ map[string]any) { h["typ"] = "JWT" }), token.ErrClaims},
		{"no typ", f.resign(t, func(h, _ map[string]any) { delete(h, "typ") }), token.ErrClaims},
		{"wrong issuer", f.resign(t, func(_, c map[string]any) { c["iss"] = "https://evil.test" }), token.ErrClaims},
		{"wrong audience", f.resign(t, func(_, c map[string]any) { c["aud"] = "https://api.other" }), token.ErrClaims},
		{"audience array without us", f.resign(t, func(_, c map[string]any) { c["aud"] = []string{"a", "b"} }), token.ErrClaims},
		{"expired beyond leeway", f.resign(t, func(_, c map[string]any) { c["exp"] = f.clock.Now().Add(-31 * time.Second).Unix() }), token.ErrExpired},
		{"not yet valid beyond leeway", f.resign(t, func(_, c map[string]any) { c["nbf"] = f.clock.Now().Add(time.Minute).Unix() }), token.ErrClaims},
		{"issued in the future", f.resign(t, func(_, c map[string]any) { c["iat"] = f.clock.Now().Add(time.Hour).Unix() }), token.ErrClaims},
		{"no exp", f.resign(t, func(_, c map[string]any) { delete(c, "exp") }), token.ErrClaims},
		{"no sid", f.resign(t, func(_, c map[string]any) { delete(c, "sid") }), token.ErrClaims},
		{"embedded jwk is ignored, unknown kid refused", f.resign(t, func(h, _ map[string]any) {
			h["kid"] = "attacker"
			h["jku"] = "https://evil.test/jwks.json"
		}), token.ErrSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.verifier.Verify(context.Background(), tc.tok)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// Within the leeway is fine, and audience arrays containing us pass.
	ok := []string{
		f.resign(t, func(_, c map[string]any) { c["exp"] = f.clock.Now().Add(-29 * time.Second).Unix() }),
		f.resign(t, func(_, c map[string]any) { c["aud"] = []string{"x", iss} }),
	}
	for _, tok := range ok {
		if _, err := f.verifier.Verify(context.Background(), tok); err != nil {
			t.Errorf("valid variant refused: %v", err)
		}
	}
}

func kidOf(tok string) string {
	h, _, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(h)
	var hdr struct{ Kid string }
	json.Unmarshal(raw, &hdr)
	return hdr.Kid
}

// TestRetiredKeyStopsVerifying: once a retired key's tokens have all
// expired it is unpublished and no longer verifies anything.
func TestRetiredKeyStopsVerifying(t *testing.T) {
	f := newFixture(t, token.ES256)
	old := f.issue(t)
	if _, err := f.keys.Rotate(context.Background(), token.ES256, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(context.Background(), old); err != nil {
		t.Fatalf("token of the just-retired key: %v", err)
	}
	f.clock.Advance(ttl + 31*time.Second)
	_, err := f.verifier.Verify(context.Background(), old)
	if !errors.Is(err, token.ErrSignature) {
		t.Fatalf("token of an unpublished key: %v, want ErrSignature", err)
	}
	// The next rotation deletes it from storage.
	if _, err := f.keys.Rotate(context.Background(), token.ES256, 0); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.db.SigningKeys(context.Background())
	if len(stored) != 2 {
		t.Fatalf("%d keys stored after pruning, want 2", len(stored))
	}
}
