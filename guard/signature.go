package guard

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
)

// verifySignature checks sig over the signing input with the standard
// library, validating every input first (RFC 8725 §3.4).
func verifySignature(key Key, input string, sig []byte) error {
	switch pub := key.Public.(type) {
	case *ecdsa.PublicKey:
		// RFC 7518 §3.4: R and S, 32 bytes each, big-endian. Zero or ≥ N
		// is refused outright ("psychic signatures", CVE-2022-21449) even
		// though crypto/ecdsa refuses them too.
		if len(sig) != 64 || !scalarInRange(sig[:32]) || !scalarInRange(sig[32:]) {
			return fmt.Errorf("%w: ECDSA signature out of range", ErrSignature)
		}
		// Low S only: (r, n−s) verifies whenever (r, s) does, so without
		// this every token would have a second spelling, a different
		// string for caches, logs and denylists. Gatehouse signs with
		// s ≤ n/2 (internal/token/lows.go; BIP 62's rule).
		if bytes.Compare(sig[32:], []byte(p256HalfOrder)) > 0 {
			return fmt.Errorf("%w: ECDSA signature not in low-S form", ErrSignature)
		}
		sum := sha256.Sum256([]byte(input))
		if !ecdsa.VerifyASN1(pub, sum[:], rawToASN1(sig)) {
			return ErrSignature
		}
	case ed25519.PublicKey:
		if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, []byte(input), sig) {
			return ErrSignature
		}
	case *rsa.PublicKey:
		if len(sig) != pub.Size() {
			return fmt.Errorf("%w: RSA signature length", ErrSignature)
		}
		sum := sha256.Sum256([]byte(input))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
			return ErrSignature
		}
	default:
		return fmt.Errorf("%w: unsupported key type %T", ErrSignature, key.Public)
	}
	return nil
}

// p256Order is N, the order of the P-256 group, big-endian.
const p256Order = "\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xbc\xe6\xfa\xad\xa7\x17\x9e\x84\xf3\xb9\xca\xc2\xfc\x63\x25\x51"

// p256HalfOrder is ⌊N/2⌋, big-endian: the largest S a low-S signature has.
const p256HalfOrder = "\x7f\xff\xff\xff\x80\x00\x00\x00\x7f\xff\xff\xff\xff\xff\xff\xff\xde\x73\x7d\x56\xd3\x8b\xcf\x42\x79\xdc\xe5\x61\x7e\x31\x92\xa8"

// scalarInRange reports whether the 32-byte big-endian b is in [1, N-1].
func scalarInRange(b []byte) bool {
	zero := true
	for _, x := range b {
		if x != 0 {
			zero = false
			break
		}
	}
	return !zero && bytes.Compare(b, []byte(p256Order)) < 0
}

// rawToASN1 turns the JWS form of an ECDSA signature (R || S) into the
// DER SEQUENCE of two INTEGERs crypto/ecdsa verifies. Both are in
// [1, N-1], so each encodes in at most 33 bytes and the whole in < 128.
func rawToASN1(sig []byte) []byte {
	out := make([]byte, 0, 72)
	out = append(out, 0x30, 0)
	for _, half := range [][]byte{sig[:32], sig[32:]} {
		for len(half) > 1 && half[0] == 0 {
			half = half[1:]
		}
		out = append(out, 0x02)
		if half[0]&0x80 != 0 {
			out = append(out, byte(len(half)+1), 0) // #nosec G115 -- half is at most 32 bytes
		} else {
			out = append(out, byte(len(half))) // #nosec G115 -- half is at most 32 bytes
		}
		out = append(out, half...)
	}
	out[1] = byte(len(out) - 2) // #nosec G115 -- at most 2*(2+33) = 70, see above
	return out
}
