// Package jwstest builds compact JWS tokens byte for byte, for the tests
// that forge what no library would write: duplicated or odd header
// members, a payload signed under the wrong key, an HMAC keyed with a
// public key. The guard's tests and the attack catalogue both forge with
// it.
package jwstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// B64 is base64url without padding (RFC 7515 §2), the encoding of every
// segment.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Input is the signing input of an exact header and payload: the two
// segments joined by a dot (RFC 7515 §5.1).
func Input(header string, payload []byte) string { return B64([]byte(header)) + "." + B64(payload) }

// Sign signs input with key as the JWS algorithm of its type would: ES256
// (low S, as Gatehouse signs; RFC 7518 §3.4), EdDSA (RFC 8037) or RS256
// (RFC 7518 §3.3).
func Sign(key crypto.Signer, input string) ([]byte, error) {
	sum := sha256.Sum256([]byte(input))
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return token.SignES256(k, []byte(input))
	case ed25519.PrivateKey:
		return ed25519.Sign(k, []byte(input)), nil
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	}
	return nil, fmt.Errorf("jwstest: no JWS algorithm for a %T", key)
}

// Compact signs the exact header and payload with key and returns the
// compact serialisation (RFC 7515 §7.1).
func Compact(key crypto.Signer, header string, payload []byte) (string, error) {
	input := Input(header, payload)
	sig, err := Sign(key, input)
	if err != nil {
		return "", err
	}
	return input + "." + B64(sig), nil
}

// HS256 "signs" with HMAC-SHA-256 keyed by secret: what a verifier that
// let the token choose the algorithm would check (RFC 8725 §2.1).
func HS256(header string, payload, secret []byte) string {
	input := Input(header, payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + B64(m.Sum(nil))
}

// HighS returns the other ECDSA P-256 signature of a JWS ES256 signature
// (R || S): (R, N−S), which plain ECDSA accepts whenever it accepts the
// original (malleability; the guard refuses it, Gatehouse never writes it).
func HighS(sig []byte) ([]byte, error) {
	if len(sig) != 64 {
		return nil, fmt.Errorf("jwstest: an ES256 signature is 64 bytes, not %d", len(sig))
	}
	s := new(big.Int).Sub(elliptic.P256().Params().N, new(big.Int).SetBytes(sig[32:]))
	return append(append([]byte(nil), sig[:32]...), s.FillBytes(make([]byte, 32))...), nil
}
