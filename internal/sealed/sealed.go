// Package sealed encrypts small records under a key derived from a secret
// the store does not hold: a spent refresh token's successor under that
// token's own bytes, an authorization code's first tokens under the code,
// a pending authorization request under the server's secret. AES-256-GCM
// (NIST SP 800-38D) with a random 96-bit nonce; the associated data binds
// a blob to the row or the use it was made for, so a blob moved elsewhere
// does not open.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrOpen is returned for a blob that does not open: too short, another
// key, other associated data, or altered.
var ErrOpen = errors.New("sealed: blob does not open")

// Key derives the sealing key for one use from secret: HMAC-SHA256 keyed
// with the secret over the label. Whoever has only SHA-256(secret), as
// the store has of a token or a code, cannot compute it.
func Key(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func aead(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	return cipher.NewGCM(block)
}

// Seal marshals v as JSON and encrypts it under key (32 bytes, from Key)
// with ad as the associated data.
func Seal(key, ad []byte, v any) ([]byte, error) {
	// #nosec G117 -- marshalled only to be sealed below; the plaintext never
	// leaves this function.
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	a, err := aead(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plain, ad), nil
}

// Open decrypts blob under key and ad and unmarshals it into v.
func Open(key, ad, blob []byte, v any) error {
	a, err := aead(key)
	if err != nil {
		return err
	}
	if len(blob) < a.NonceSize()+a.Overhead() {
		return ErrOpen
	}
	plain, err := a.Open(nil, blob[:a.NonceSize()], blob[a.NonceSize():], ad)
	if err != nil {
		return ErrOpen
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("%w: %v", ErrOpen, err)
	}
	return nil
}
