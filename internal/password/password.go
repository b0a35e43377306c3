// Package password hashes and checks passwords with argon2id (RFC 9106),
// storing each hash as a PHC string that carries its own parameters, so
// that parameters can be raised without invalidating existing hashes.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Length bounds. No composition rules and no truncation (ASVS 6.2.5, 6.2.9):
// the upper bound only stops a hash from being asked to chew megabytes.
const (
	MinRunes = 8
	MaxBytes = 1024
)

// Errors returned by Validate.
var (
	ErrTooShort    = fmt.Errorf("password must have at least %d characters", MinRunes)
	ErrTooLong     = fmt.Errorf("password must have at most %d bytes", MaxBytes)
	ErrInvalidUTF8 = errors.New("password must be valid UTF-8")
	ErrMalformed   = errors.New("password: malformed hash")
)

// Params are argon2id's cost parameters.
type Params struct {
	MemoryKiB   uint32 `yaml:"memory_kib"`
	Iterations  uint32 `yaml:"iterations"`
	Parallelism uint8  `yaml:"parallelism"`
}

// DefaultParams are OWASP's minimum for argon2id: m=19 MiB, t=2, p=1.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

// Validate checks p against the floor Gatehouse accepts.
func (p Params) Validate() error {
	if p.MemoryKiB < DefaultParams.MemoryKiB || p.Iterations < DefaultParams.Iterations || p.Parallelism < 1 {
		return fmt.Errorf("argon2id parameters m=%d t=%d p=%d are below the minimum m=%d t=%d p=%d",
			p.MemoryKiB, p.Iterations, p.Parallelism,
			DefaultParams.MemoryKiB, DefaultParams.Iterations, DefaultParams.Parallelism)
	}
	return nil
}

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes with one set of parameters and checks hashes made with any.
type Hasher struct {
	params Params
	// dummy is a hash of a random password with the current parameters:
	// checking a login for an unknown user against it costs the same time as
	// checking a real user's hash, so timing does not reveal which users exist.
	dummy string
}

// NewHasher returns a Hasher using p for new hashes. p is not checked
// against the floor here so that tests may use cheap parameters; the
// configuration layer enforces Validate.
func NewHasher(p Params) *Hasher {
	h := &Hasher{params: p}
	h.dummy = h.Hash(rand.Text())
	return h
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Validate checks a new password's length and encoding. Any Unicode is
// allowed; nothing is normalised away or truncated.
func Validate(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return ErrInvalidUTF8
	case len(pw) > MaxBytes:
		return ErrTooLong
	case utf8.RuneCountInString(pw) < MinRunes:
		return ErrTooShort
	}
	return nil
}

// Hash returns the PHC string of pw with a fresh random salt.
func (h *Hasher) Hash(pw string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	p := h.params
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations,
		p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

var b64 = base64.RawStdEncoding

type phc struct {
	params Params
	salt   []byte
	key    []byte
}

func parse(s string) (phc, error) {
	// $argon2id$v=19$m=..,t=..,p=..$salt$hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, ErrMalformed
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return phc{}, ErrMalformed
	}
	var out phc
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &out.params.MemoryKiB, &out.params.Iterations, &out.params.Parallelism); err != nil {
		return phc{}, ErrMalformed
	}
	var err error
	if out.salt, err = b64.DecodeString(parts[4]); err != nil || len(out.salt) < 8 {
		return phc{}, ErrMalformed
	}
	if out.key, err = b64.DecodeString(parts[5]); err != nil || len(out.key) < 16 {
		return phc{}, ErrMalformed
	}
	// Refuse parameters that would let a tampered row exhaust memory or CPU.
	if out.params.MemoryKiB > 4<<20 || out.params.Iterations > 64 || out.params.Parallelism == 0 {
		return phc{}, ErrMalformed
	}
	return out, nil
}

// Check reports whether pw matches the PHC string, in constant time with
// respect to the key. A malformed hash never matches.
func (h *Hasher) Check(pw, encoded string) (bool, error) {
	p, err := parse(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.params.Iterations, p.params.MemoryKiB, p.params.Parallelism, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// CheckNobody spends the same time as Check against a real hash and always
// fails: the login path calls it when the user does not exist.
func (h *Hasher) CheckNobody(pw string) {
	h.Check(pw, h.dummy)
}

// NeedsRehash reports whether encoded was made with other parameters than
// the current ones, so a successful login should store a fresh hash.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, err := parse(encoded)
	return err != nil || p.params != h.params || len(p.key) != keyLen
}
