package token_test

import (
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// TestKeySignTyped: an ID-token key signs with another typ when asked
// (an OpenID Connect logout token's logout+jwt), with every algorithm,
// the same alg and kid, a signature that verifies and, for ES256, a low
// S; it never signs with at+jwt, however spelled, so no access token comes
// from an ID-token key. An access key signs only at+jwt.
func TestKeySignTyped(t *testing.T) {
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	claims := map[string]any{"iss": "https://gatehouse.example", "sid": "s1"}
	for _, alg := range token.Algorithms {
		t.Run(alg, func(t *testing.T) {
			access, id, _, _ := rings(t, token.Encryption{})
			for _, r := range []*token.Keyring{access, id} {
				if err := r.Ensure(t.Context(), alg); err != nil {
					t.Fatal(err)
				}
			}
			k := mustSigning(t, id)
			rounds := 1
			if alg == token.ES256 {
				rounds = 32
			}
			for range rounds {
				raw, err := k.SignTyped("logout+jwt", claims)
				if err != nil {
					t.Fatal(err)
				}
				jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				h := jws.Signatures[0].Protected
				if h.Algorithm != alg || h.KeyID != k.KID || h.ExtraHeaders[jose.HeaderType] != "logout+jwt" {
					t.Fatalf("header alg %q kid %q typ %v", h.Algorithm, h.KeyID, h.ExtraHeaders[jose.HeaderType])
				}
				payload, err := jws.Verify(k.Public())
				if err != nil {
					t.Fatal(err)
				}
				var got map[string]any
				if err := json.Unmarshal(payload, &got); err != nil || got["sid"] != "s1" {
					t.Fatalf("payload %s, %v", payload, err)
				}
				if alg == token.ES256 {
					sig, _ := base64.RawURLEncoding.DecodeString(raw[strings.LastIndex(raw, ".")+1:])
					if len(sig) != 64 || new(big.Int).SetBytes(sig[32:]).Cmp(half) > 0 {
						t.Fatalf("signature %x: want 64 bytes with a low S", sig)
					}
				}
			}
			// Sign keeps the purpose's own typ after a SignTyped.
			raw, err := k.Sign(claims)
			if err != nil {
				t.Fatal(err)
			}
			if jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}); err != nil ||
				jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType] != token.TypeIDToken {
				t.Fatalf("Sign after SignTyped: %v", err)
			}

			for _, typ := range []string{"", "at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"} {
				if raw, err := k.SignTyped(typ, claims); !errors.Is(err, token.ErrType) {
					t.Errorf("ID-token key SignTyped(%q) = %q, %v; want ErrType", typ, raw, err)
				}
			}
			ak := mustSigning(t, access)
			for _, typ := range []string{"", "logout+jwt", "JWT"} {
				if raw, err := ak.SignTyped(typ, claims); !errors.Is(err, token.ErrType) {
					t.Errorf("access key SignTyped(%q) = %q, %v; want ErrType", typ, raw, err)
				}
			}
			if _, err := ak.SignTyped("at+jwt", claims); err != nil {
				t.Errorf("access key SignTyped(at+jwt): %v", err)
			}
		})
	}
}
