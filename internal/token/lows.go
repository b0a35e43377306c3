package token

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"math/big"

	"github.com/go-jose/go-jose/v4"
)

// ECDSA signatures are malleable: if (r, s) verifies, so does (r, n−s),
// and the second is a different JWS string for the same token. Anything
// keyed on the token string (a verifier's cache, a log search, a
// denylist) would see two tokens. Gatehouse therefore issues ES256
// signatures with s in the lower half of the group order only, as Bitcoin
// does (BIP 62, BIP 146), and guard refuses an s in the upper half, so
// each token has exactly one spelling that verifies.

// SignES256 returns the JWS ES256 signature (RFC 7518 §3.4: R || S, 32
// bytes each, big-endian) of input, with S ≤ N/2.
func SignES256(priv *ecdsa.PrivateKey, input []byte) ([]byte, error) {
	sum := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
	if err != nil {
		return nil, err
	}
	n := priv.Curve.Params().N
	if s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.Sub(n, s)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// ES256Signer is a go-jose signer that signs with SignES256, for
// jose.SigningKey{Algorithm: jose.ES256, Key: ES256Signer(priv, kid)}.
func ES256Signer(priv *ecdsa.PrivateKey, kid string) jose.OpaqueSigner {
	return es256Signer{priv: priv, kid: kid}
}

type es256Signer struct {
	priv *ecdsa.PrivateKey
	kid  string
}

func (e es256Signer) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: e.priv.Public(), KeyID: e.kid, Algorithm: string(jose.ES256), Use: "sig"}
}

func (e es256Signer) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{jose.ES256} }

func (e es256Signer) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != jose.ES256 {
		return nil, errors.New("token: the ES256 signer cannot sign " + string(alg))
	}
	return SignES256(e.priv, payload)
}
