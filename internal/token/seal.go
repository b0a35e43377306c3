package token

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// Private keys at rest.
//
// With a key-encryption key (KEK) configured, the keyring seals each
// signing key's PKCS #8 DER before it reaches the store, so a copy of the
// database (a backup, a replica, a read-only SQL account) cannot sign
// tokens. The sealed form, version 1, is
//
//	"ghk1" || nonce (12 bytes) || AES-256-GCM(KEK, nonce, DER, aad) (ciphertext and 16-byte tag)
//
// with aad = "ghk1" || kid: the row's kid is authenticated, so a sealed key
// copied onto another row does not open, and a signature could never be
// made with a key the JWKS publishes under another kid. The magic tells a
// sealed row from a legacy plain one: DER always begins with 0x30 (an ASN.1
// SEQUENCE), never with "g". Nonces are random: a KEK seals at most a few
// keys a year, far below the 2^32 messages a random 96-bit nonce allows.

// KEKSize is the length of a key-encryption key: AES-256.
const KEKSize = 32

// sealMagic starts every sealed private key; its last byte is the version.
const sealMagic = "ghk1"

// sealPrefix is what every version's magic starts with: a row beginning
// with it is sealed, if perhaps by a newer Gatehouse.
const sealPrefix = "ghk"

// ErrUndecryptable is returned when no configured key-encryption key opens
// a stored signing key: the wrong key, a damaged row, or a row copied onto
// another kid. Startup stops on it rather than creating new keys, which
// would log everyone out and leave the old keys unreadable.
var ErrUndecryptable = errors.New("key_encryption_key does not decrypt signing key")

// Encryption says how the keyring protects private keys at rest.
type Encryption struct {
	// Key is the key-encryption key (KEKSize bytes); nil stores keys
	// unencrypted, as before encryption existed.
	Key []byte
	// Previous is an older KEK (or, while rolling a new one out across
	// nodes, the next one), used only to decrypt; Keyring.Prepare reseals
	// what it opens under Key.
	Previous []byte
	// Required refuses to run without Key: a shared database server
	// (PostgreSQL) is reachable by more people and backed up in more places
	// than a 0600 file beside the process.
	Required bool
}

// sealer is Encryption made ready: nil AEADs where no key is configured.
type sealer struct {
	current, previous cipher.AEAD
	required          bool
}

func newSealer(e Encryption) (*sealer, error) {
	s := &sealer{required: e.Required}
	if e.Key == nil && e.Previous != nil {
		return nil, errors.New("token: a previous key-encryption key needs a current one")
	}
	if e.Required && e.Key == nil {
		return nil, errors.New("token: key_encryption_key is required with this database: signing keys must not be stored in the clear")
	}
	if e.Key != nil && e.Previous != nil && subtle.ConstantTimeCompare(e.Key, e.Previous) == 1 {
		return nil, errors.New("token: key_encryption_key_previous is the same as key_encryption_key")
	}
	var err error
	if s.current, err = newAEAD(e.Key); err != nil {
		return nil, fmt.Errorf("token: key_encryption_key: %w", err)
	}
	if s.previous, err = newAEAD(e.Previous); err != nil {
		return nil, fmt.Errorf("token: key_encryption_key_previous: %w", err)
	}
	return s, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if key == nil {
		return nil, nil
	}
	if len(key) != KEKSize {
		return nil, fmt.Errorf("must be %d bytes, not %d", KEKSize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// encrypts reports whether new keys are sealed.
func (s *sealer) encrypts() bool { return s.current != nil }

// seal returns der sealed for the row kid under the current KEK, or der
// itself without one.
func (s *sealer) seal(kid string, der []byte) []byte {
	if s.current == nil {
		return der
	}
	nonce := make([]byte, s.current.NonceSize())
	rand.Read(nonce) // never fails (crypto/rand, Go 1.24+)
	out := append([]byte(sealMagic), nonce...)
	return s.current.Seal(out, nonce, der, aad(kid))
}

func aad(kid string) []byte { return []byte(sealMagic + kid) }

// How a stored private key was found.
type sealState int

const (
	statePlain    sealState = iota // legacy: unencrypted DER
	stateCurrent                   // sealed under the current KEK
	statePrevious                  // sealed under the previous KEK
)

// open returns the DER of a stored key and how it was stored.
func (s *sealer) open(sk store.SigningKey) ([]byte, sealState, error) {
	if !bytes.HasPrefix(sk.Private, []byte(sealPrefix)) {
		return sk.Private, statePlain, nil
	}
	if !bytes.HasPrefix(sk.Private, []byte(sealMagic)) {
		return nil, 0, fmt.Errorf("signing key %s is sealed in a format this version does not know", sk.KID)
	}
	if s.current == nil {
		return nil, 0, fmt.Errorf("signing key %s is encrypted but key_encryption_key is not set", sk.KID)
	}
	body := sk.Private[len(sealMagic):]
	n := s.current.NonceSize()
	if len(body) >= n+s.current.Overhead() {
		nonce, ct := body[:n], body[n:]
		if der, err := s.current.Open(nil, nonce, ct, aad(sk.KID)); err == nil {
			return der, stateCurrent, nil
		}
		if s.previous != nil {
			if der, err := s.previous.Open(nil, nonce, ct, aad(sk.KID)); err == nil {
				return der, statePrevious, nil
			}
		}
	}
	return nil, 0, fmt.Errorf("%w %s", ErrUndecryptable, sk.KID)
}
