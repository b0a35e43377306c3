package guard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/credential/credentialtest"
	"github.com/gatehouse-auth/gatehouse/internal/token/jwstest"
)

// TestVerifyRejections runs every rejection path through Verify (the
// sentinel error) and through the middleware as a Bearer request (status,
// exact WWW-Authenticate, problem code).
func TestVerifyRejections(t *testing.T) {
	e := newEnv(t, nil, func(c *guard.Config) { c.CacheEntries = -1 })
	now := e.clock.Now()
	at := func(over map[string]any) map[string]any { return claimsAt(now, over) }
	es := func(over map[string]any) string { return e.es.mint(t, nil, at(over)) }
	withHeader := func(h map[string]any) string { return e.es.mint(t, h, at(nil)) }
	payload := func(over map[string]any) []byte {
		b, err := json.Marshal(at(over))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	raw := func(header string) string { return e.es.signRaw(t, header, payload(nil)) }
	segs := func(tok string) []string { return strings.Split(tok, ".") }
	good := es(nil)
	g := segs(good)
	pubPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(e.es.priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	hs256 := func() string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: pubPEM(), KeyID: "es-1"}},
			(&jose.SignerOptions{}).WithType("at+jwt"))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := s.Sign(payload(nil))
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := obj.CompactSerialize()
		return tok
	}
	pubJWK, _ := json.Marshal(jose.JSONWebKey{Key: e.es.priv.Public(), KeyID: "es-1"})
	// An attacker's own P-256 key, signing under the kid of ours.
	foreign := &testKey{kid: e.es.kid, alg: guard.ES256, priv: newKeys(t).es.priv}
	p256N := "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
	hexSig := func(h string) string {
		b := make([]byte, len(h)/2)
		for i := range b {
			var x byte
			for _, c := range h[2*i : 2*i+2] {
				x <<= 4
				switch {
				case c >= '0' && c <= '9':
					x |= byte(c - '0')
				default:
					x |= byte(c - 'a' + 10)
				}
			}
			b[i] = x
		}
		return b64(string(b))
	}

	cases := []struct {
		name    string
		tok     string
		wantErr error  // nil: accepted
		ch      string // WWW-Authenticate when refused
	}{
		{"valid ES256", good, nil, ""},
		{"valid EdDSA", e.ed.mint(t, nil, at(nil)), nil, ""},
		{"valid RS256", e.rs.mint(t, nil, at(nil)), nil, ""},
		{"aud as a string", es(map[string]any{"aud": testAudience}), nil, ""},
		{"aud array with others", es(map[string]any{"aud": []string{"x", testAudience}}), nil, ""},
		{"typ application/at+jwt", withHeader(map[string]any{"typ": "application/at+jwt"}), nil, ""},
		{"typ AT+JWT", withHeader(map[string]any{"typ": "AT+JWT"}), nil, ""},
		{"expired within leeway", es(map[string]any{"exp": now.Add(-20 * time.Second).Unix()}), nil, ""},
		{"fractional dates", es(map[string]any{"exp": float64(now.Add(time.Minute).Unix()) + 0.5}), nil, ""},

		{"expired", es(map[string]any{"exp": now.Add(-31 * time.Second).Unix()}), guard.ErrExpired, chExpired},
		{"not yet valid", es(map[string]any{"nbf": now.Add(time.Minute).Unix()}), guard.ErrNotYetValid, chNotYet},
		{"iat in the future", es(map[string]any{"iat": now.Add(time.Minute).Unix()}), guard.ErrNotYetValid, chNotYet},
		{"exp missing", es(map[string]any{"exp": del}), guard.ErrClaims, chClaims},
		{"iat missing", es(map[string]any{"iat": del}), guard.ErrClaims, chClaims},
		{"exp not a number", es(map[string]any{"exp": "tomorrow"}), guard.ErrMalformed, chMalform},
		{"exp out of range", es(map[string]any{"exp": 1e300}), guard.ErrMalformed, chMalform},
		{"wrong iss", es(map[string]any{"iss": "https://evil.test"}), guard.ErrClaims, chClaims},
		{"wrong aud", es(map[string]any{"aud": "https://other-api.test"}), guard.ErrClaims, chClaims},
		{"aud missing", es(map[string]any{"aud": del}), guard.ErrClaims, chClaims},
		{"aud array without us", es(map[string]any{"aud": []string{"a", "b"}}), guard.ErrClaims, chClaims},
		{"sub missing", es(map[string]any{"sub": del}), guard.ErrClaims, chClaims},
		{"sid missing", es(map[string]any{"sid": del}), guard.ErrClaims, chClaims},
		{"jti missing", es(map[string]any{"jti": del}), guard.ErrClaims, chClaims},
		{"typ JWT", withHeader(map[string]any{"typ": "JWT"}), guard.ErrClaims, chClaims},
		{"ID token", e.es.mint(t, map[string]any{"typ": "JWT"}, at(map[string]any{"aud": "gatehouse", "nonce": "n"})), guard.ErrClaims, chClaims},
		{"typ missing", raw(`{"alg":"ES256","kid":"es-1"}`), guard.ErrClaims, chClaims},
		{"payload not an object", e.es.signRaw(t, `{"alg":"ES256","kid":"es-1","typ":"at+jwt"}`, []byte(`[1]`)), guard.ErrMalformed, chMalform},

		{"unknown kid", raw(`{"alg":"ES256","kid":"nope","typ":"at+jwt"}`), guard.ErrSignature, chSig},
		{"no kid", raw(`{"alg":"ES256","typ":"at+jwt"}`), guard.ErrSignature, chSig},
		{"kid of another algorithm's key", raw(`{"alg":"ES256","kid":"ed-1","typ":"at+jwt"}`), guard.ErrSignature, chSig},
		{"kid path traversal", raw(`{"alg":"ES256","kid":"../../etc/passwd","typ":"at+jwt"}`), guard.ErrSignature, chSig},
		{"kid SQL", raw(`{"alg":"ES256","kid":"' OR 1=1 --","typ":"at+jwt"}`), guard.ErrSignature, chSig},
		{"kid of 10 KB", raw(`{"alg":"ES256","kid":"` + strings.Repeat("k", 10<<10) + `","typ":"at+jwt"}`), guard.ErrMalformed, chMalform},
		{"tampered payload", g[0] + "." + b64(string(payload(map[string]any{"sub": "admin"}))) + "." + g[2], guard.ErrSignature, chSig},
		{"signature of another token", g[0] + "." + g[1] + "." + segs(es(nil))[2], guard.ErrSignature, chSig},
		{"signed by another key under our kid", foreign.mint(t, nil, at(nil)), guard.ErrSignature, chSig},
		{"stripped signature", g[0] + "." + g[1], guard.ErrMalformed, chMalform},
		{"empty signature", g[0] + "." + g[1] + ".", guard.ErrSignature, chSig},
		{"alg none", b64(`{"alg":"none","kid":"es-1","typ":"at+jwt"}`) + "." + g[1] + ".", guard.ErrSignature, chSig},
		{"alg None", b64(`{"alg":"None","kid":"es-1","typ":"at+jwt"}`) + "." + g[1] + ".", guard.ErrSignature, chSig},
		{"alg NONE", b64(`{"alg":"NONE","kid":"es-1","typ":"at+jwt"}`) + "." + g[1] + ".", guard.ErrSignature, chSig},
		{"alg none, no kid", b64(`{"alg":"none","typ":"at+jwt"}`) + "." + g[1] + ".", guard.ErrSignature, chSig},
		{"HS256 with the public key as secret", hs256(), guard.ErrSignature, chSig},
		{"alg es256 (wrong case)", raw(`{"alg":"es256","kid":"es-1","typ":"at+jwt"}`), guard.ErrSignature, chSig},
		{"embedded jwk", raw(`{"alg":"ES256","kid":"es-1","typ":"at+jwt","jwk":` + string(pubJWK) + `}`), guard.ErrMalformed, chMalform},
		{"jku", raw(`{"alg":"ES256","kid":"es-1","typ":"at+jwt","jku":"https://evil.test/jwks.json"}`), guard.ErrMalformed, chMalform},
		{"x5u", raw(`{"alg":"ES256","kid":"es-1","typ":"at+jwt","x5u":"https://evil.test/cert.pem"}`), guard.ErrMalformed, chMalform},
		{"x5c", raw(`{"alg":"ES256","kid":"es-1","typ":"at+jwt","x5c":["MIIB"]}`), guard.ErrMalformed, chMalform},
		{"crit", raw(`{"alg":"ES256","kid":"es-1","typ":"at+jwt","crit":["exp"],"exp":1}`), guard.ErrMalformed, chMalform},
		{"zip", raw(`{"alg":"ES256","kid":"es-1","typ":"at+jwt","zip":"DEF"}`), guard.ErrMalformed, chMalform},
		{"duplicate alg", raw(`{"alg":"ES256","kid":"es-1","typ":"at+jwt","alg":"none"}`), guard.ErrMalformed, chMalform},
		{"duplicate kid in another case", raw(`{"alg":"ES256","kid":"es-1","typ":"at+jwt","KID":"x"}`), guard.ErrMalformed, chMalform},
		{"ALG instead of alg", raw(`{"ALG":"ES256","kid":"es-1","typ":"at+jwt"}`), guard.ErrMalformed, chMalform},
		{"escaped parameter name", raw(`{"alg":"ES256","kid":"es-1","typ":"at+jwt","\u006awk":{}}`), guard.ErrMalformed, chMalform},
		{"alg not a string", raw(`{"alg":["ES256"],"kid":"es-1","typ":"at+jwt"}`), guard.ErrMalformed, chMalform},
		{"header not JSON", b64(`{"alg":"ES256",`) + "." + g[1] + "." + g[2], guard.ErrMalformed, chMalform},
		{"header not an object", b64(`"ES256"`) + "." + g[1] + "." + g[2], guard.ErrMalformed, chMalform},
		{"ECDSA r=s=0", g[0] + "." + g[1] + "." + b64(string(make([]byte, 64))), guard.ErrSignature, chSig},
		{"ECDSA r=N", g[0] + "." + g[1] + "." + hexSig(p256N+strings.Repeat("0", 63)+"1"), guard.ErrSignature, chSig},
		{"ECDSA s=N", g[0] + "." + g[1] + "." + hexSig(strings.Repeat("0", 63)+"1"+p256N), guard.ErrSignature, chSig},
		{"ECDSA (r, n-s) twin of a valid signature", highS(t, e.es.priv.Public().(*ecdsa.PublicKey), good), guard.ErrSignature, chSig},
		{"ECDSA DER signature", g[0] + "." + g[1] + "." + b64(string(make([]byte, 70))), guard.ErrSignature, chSig},
		{"extra dots", good + ".", guard.ErrMalformed, chMalform},
		{"many dots", strings.Repeat(".", 1000), guard.ErrMalformed, chMalform},
		{"leading dot", "." + g[1] + "." + g[2], guard.ErrMalformed, chMalform},
		{"empty payload", g[0] + ".." + g[2], guard.ErrMalformed, chMalform},
		{"newline in a segment", g[0] + "." + g[1][:10] + "\n" + g[1][10:] + "." + g[2], guard.ErrMalformed, chMalform},
		{"space in a segment", g[0][:5] + " " + g[0][5:] + "." + g[1] + "." + g[2], guard.ErrMalformed, chMalform},
		{"padding", good + "==", guard.ErrMalformed, chMalform},
		{"standard base64", strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/", guard.ErrMalformed, chMalform},
		{"non-canonical base64 tail", g[0] + "." + g[1] + "." + g[2][:len(g[2])-1] + "B", guard.ErrSignature, chSig},
		{"one byte over the 8 KiB cap", good + strings.Repeat("A", maxTokenLen+1-len(good)), guard.ErrMalformed, chMalform},
		{"100 KB token", strings.Repeat("a", 50<<10) + "." + strings.Repeat("b", 50<<10) + ".c", guard.ErrMalformed, chMalform},
		{"empty", "", guard.ErrMalformed, chMalform},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := e.g.Verify(context.Background(), c.tok)
			if c.wantErr == nil {
				if err != nil || p == nil {
					t.Fatalf("Verify: %v", err)
				}
			} else if !errors.Is(err, c.wantErr) || p != nil {
				t.Fatalf("Verify: %v, want %v", err, c.wantErr)
			}
			if c.tok == "" {
				return // an empty Bearer token is an invalid request, tested with the middleware
			}
			got := serve(e.g.Middleware, bearerReq(http.MethodGet, c.tok))
			if c.wantErr == nil {
				if got.status != 200 || got.principal == nil {
					t.Fatalf("middleware: %d %s", got.status, got.body)
				}
				return
			}
			status, ch, code := 401, c.ch, "invalid_token"
			if _, ok := credentialtest.BearerToken("Bearer " + c.tok); !ok { // not one RFC 6750 b64token at all
				status, ch, code = 400, chRequest, "invalid_request"
			}
			if got.status != status || got.challenge != ch || got.code != code {
				t.Fatalf("middleware: %d %q %q", got.status, got.challenge, got.code)
			}
		})
	}
}

// TestNeverSignatureCheckedAfterExpiry: an expired token with a bad
// signature is a bad signature (CVE-2024-51744), so nothing about it is
// trusted, in-line refresh included.
func TestExpiredBadSignatureIsSignatureError(t *testing.T) {
	e := newEnv(t, nil, nil)
	tok := e.token(t, map[string]any{"exp": t0.Add(-time.Hour).Unix()})
	s := strings.Split(tok, ".")
	forged := s[0] + "." + s[1] + "." + strings.Split(e.token(t, nil), ".")[2]
	if _, err := e.g.Verify(context.Background(), forged); !errors.Is(err, guard.ErrSignature) {
		t.Fatalf("got %v, want ErrSignature", err)
	}
}

func TestPrincipal(t *testing.T) {
	e := newEnv(t, nil, nil)
	tok := e.token(t, map[string]any{"jti": "jti-9", "roles": []string{"admin", "editor"}})
	p, err := e.g.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := guard.Principal{Subject: "user-1", Username: "alice", SessionID: "sess-1", ClientID: "gatehouse",
		TokenID: "jti-9", CSRFHash: csrfHash(testCSRF), AuthTime: t0.Add(-time.Minute), IssuedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	got := *p
	if strings.Join(got.Roles, ",") != "admin,editor" || strings.Join(got.Scopes, ",") != "api,read" {
		t.Errorf("roles %v scopes %v", got.Roles, got.Scopes)
	}
	got.Roles, got.Scopes = nil, nil
	if !got.AuthTime.Equal(want.AuthTime) || !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("times %v %v %v", got.AuthTime, got.IssuedAt, got.ExpiresAt)
	}
	got.AuthTime, got.IssuedAt, got.ExpiresAt = want.AuthTime, want.IssuedAt, want.ExpiresAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("principal\n got %+v\nwant %+v", got, want)
	}
	if !p.HasRole("admin") || p.HasRole("root") || !p.HasScope("api") || p.HasScope("write") {
		t.Error("HasRole/HasScope")
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	e := newEnv(t, nil, func(c *guard.Config) { c.Algorithms = []string{guard.EdDSA} })
	if _, err := e.g.Verify(context.Background(), e.token(t, nil)); !errors.Is(err, guard.ErrSignature) {
		t.Fatalf("ES256 with only EdDSA allowed: %v", err)
	}
	if _, err := e.g.Verify(context.Background(), e.ed.mint(t, nil, claimsAt(t0, nil))); err != nil {
		t.Fatalf("EdDSA: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	src, err := guard.StaticKeys(newKeys(t).jwks)
	if err != nil {
		t.Fatal(err)
	}
	ok := guard.Config{Issuer: testIssuer, Audience: testAudience, Keys: src}
	cases := []struct {
		name   string
		change func(*guard.Config)
		want   string // substring of the error; "" for no error
	}{
		{"defaults", func(*guard.Config) {}, ""},
		{"no issuer", func(c *guard.Config) { c.Issuer = "" }, "Issuer is required"},
		{"no audience", func(c *guard.Config) { c.Audience = " " }, "Audience is required"},
		{"no keys", func(c *guard.Config) { c.Keys = nil }, "Keys is required"},
		{"alg none", func(c *guard.Config) { c.Algorithms = []string{"ES256", "none"} }, `"none" is never allowed`},
		{"alg None", func(c *guard.Config) { c.Algorithms = []string{"None"} }, `"none" is never allowed`},
		{"HS256", func(c *guard.Config) { c.Algorithms = []string{"HS256"} }, "HMAC"},
		{"hs512", func(c *guard.Config) { c.Algorithms = []string{"hs512"} }, "HMAC"},
		{"PS256", func(c *guard.Config) { c.Algorithms = []string{"PS256"} }, "unsupported algorithm"},
		{"negative leeway", func(c *guard.Config) { c.Leeway = -time.Second }, "negative"},
		{"leeway over 5m", func(c *guard.Config) { c.Leeway = 6 * time.Minute }, "above the maximum"},
		{"leeway 5m", func(c *guard.Config) { c.Leeway = 5 * time.Minute }, ""},
		{"negative feed lag", func(c *guard.Config) { c.FeedMaxLag = -1 }, "negative"},
		{"cache off", func(c *guard.Config) { c.CacheEntries = -1 }, ""},
		{"bad origin", func(c *guard.Config) { c.AllowedOrigins = []string{"app.test/x"} }, "AllowedOrigins"},
		{"bad cookie name", func(c *guard.Config) { c.AccessCookie = "a b" }, "AccessCookie"},
		{"same cookie names", func(c *guard.Config) { c.CSRFCookie = accessCookie }, "must differ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.change(&cfg)
			g, err := guard.New(cfg)
			switch {
			case c.want == "" && (err != nil || g == nil):
				t.Fatalf("New: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("New: %v, want an error with %q", err, c.want)
			}
		})
	}
}

// highS returns the (r, n−s) twin of the ES256 signature of a compact
// token, and checks that plain ECDSA accepts it (malleability is real: only
// the guard's low-S rule refuses it).
func highS(t *testing.T, pub *ecdsa.PublicKey, tok string) string {
	t.Helper()
	cut := strings.LastIndex(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(tok[cut+1:])
	if err != nil {
		t.Fatal(err)
	}
	twin, err := jwstest.HighS(sig)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(tok[:cut]))
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(twin[:32]), new(big.Int).SetBytes(twin[32:])) {
		t.Fatal("the twin does not verify under plain ECDSA")
	}
	return tok[:cut] + "." + jwstest.B64(twin)
}
