package token_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// TestES256LowS: every ES256 token Gatehouse issues has S ≤ N/2, so its
// (r, n−s) twin, which plain ECDSA accepts too, is the high-S spelling the
// guard refuses. With go-jose's own signer about half the tokens had a
// high S.
func TestES256LowS(t *testing.T) {
	f := newFixture(t, token.ES256)
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	for i := range 64 {
		raw, _, _, err := f.issuer.Issue(t.Context(), subject)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := base64.RawURLEncoding.DecodeString(raw[strings.LastIndex(raw, ".")+1:])
		if err != nil || len(sig) != 64 {
			t.Fatalf("token %d: signature %x, %v", i, sig, err)
		}
		if new(big.Int).SetBytes(sig[32:]).Cmp(half) > 0 {
			t.Fatalf("token %d has a high S", i)
		}
		if _, err := f.guard.Verify(t.Context(), raw); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
}

// TestSignES256: the signature verifies under crypto/ecdsa, and S is low
// whatever the random nonce gave.
func TestSignES256(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	input := []byte("header.payload")
	sum := sha256.Sum256(input)
	var seen [][]byte
	for range 32 {
		sig, err := token.SignES256(key, input)
		if err != nil {
			t.Fatal(err)
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(&key.PublicKey, sum[:], r, s) || s.Cmp(half) > 0 {
			t.Fatalf("signature %x: verifies %v, low S %v", sig, ecdsa.Verify(&key.PublicKey, sum[:], r, s), s.Cmp(half) <= 0)
		}
		for _, o := range seen {
			if bytes.Equal(o, sig) {
				t.Fatal("two signatures alike: the nonce is not random")
			}
		}
		seen = append(seen, sig)
	}
}
