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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Length bounds. No composition rules and no truncation (ASVS 6.2.5, 6.2.8):
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

// Params are argon2id's cost parameters. The configuration's are
// config.Argon2, field for field, which the composition root converts.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultParams are OWASP's minimum for argon2id: m=19 MiB, t=2, p=1.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

// Ceilings on the parameters a stored hash may carry, so that a tampered
// row cannot make one check exhaust memory or CPU. Validate applies them to
// the configured parameters too: a hash made with parameters above them
// would be refused as malformed, and nobody could log in.
const (
	maxMemoryKiB  = 4 << 20 // 4 GiB
	maxIterations = 64
)

// Validate checks p against the floor Gatehouse accepts and the ceiling
// Check accepts.
func (p Params) Validate() error {
	if p.MemoryKiB < DefaultParams.MemoryKiB || p.Iterations < DefaultParams.Iterations || p.Parallelism < 1 {
		return fmt.Errorf("argon2id parameters m=%d t=%d p=%d are below the minimum m=%d t=%d p=%d",
			p.MemoryKiB, p.Iterations, p.Parallelism,
			DefaultParams.MemoryKiB, DefaultParams.Iterations, DefaultParams.Parallelism)
	}
	if p.MemoryKiB > maxMemoryKiB || p.Iterations > maxIterations {
		return fmt.Errorf("argon2id parameters m=%d t=%d are above the maximum m=%d t=%d",
			p.MemoryKiB, p.Iterations, maxMemoryKiB, maxIterations)
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
	// cost holds how long recent hashes at the current parameters took:
	// what a failed check against an older, cheaper hash is padded to.
	cost costs
}

// NewHasher returns a Hasher using p for new hashes. p is not checked
// against the floor here so that tests may use cheap parameters; the
// configuration layer enforces Validate.
func NewHasher(p Params) *Hasher {
	h := &Hasher{params: p}
	start := time.Now()
	h.dummy = h.Hash(rand.Text())
	h.cost.add(time.Since(start))
	return h
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Validate checks a new password's length and encoding and refuses common
// ones (ErrCommon). Any Unicode is allowed; nothing is normalised away or
// truncated. It is for new passwords only: the login path must not call
// it, so that a rule added later never locks out a user whose existing
// password predates it.
func Validate(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return ErrInvalidUTF8
	case len(pw) > MaxBytes:
		return ErrTooLong
	case utf8.RuneCountInString(pw) < MinRunes:
		return ErrTooShort
	case IsCommon(pw):
		return ErrCommon
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
	// Exact matches, not fmt.Sscanf: Sscanf skips spaces and ignores
	// whatever follows the last verb, so "v=19x" or "p=1,x=2" would pass.
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, ErrMalformed
	}
	var out phc
	m, t, p, ok := cutParams(parts[3])
	if !ok {
		return phc{}, ErrMalformed
	}
	// #nosec G115 -- cutParams parsed m and t with bitSize 32 and p with 8: each fits.
	out.params = Params{MemoryKiB: uint32(m), Iterations: uint32(t), Parallelism: uint8(p)}
	var err error
	if out.salt, err = b64.DecodeString(parts[4]); err != nil || len(out.salt) < 8 {
		return phc{}, ErrMalformed
	}
	if out.key, err = b64.DecodeString(parts[5]); err != nil || len(out.key) < 16 {
		return phc{}, ErrMalformed
	}
	// Refuse parameters that would let a tampered row exhaust memory or
	// CPU, and those RFC 9106 §3.1 rules out (t ≥ 1, p ≥ 1, m ≥ 8p), which
	// would otherwise make argon2.IDKey panic (t = 0) or quietly raise m.
	pr := out.params
	if pr.MemoryKiB > maxMemoryKiB || pr.Iterations > maxIterations ||
		pr.Iterations < 1 || pr.Parallelism < 1 || pr.MemoryKiB < 8*uint32(pr.Parallelism) {
		return phc{}, ErrMalformed
	}
	return out, nil
}

// cutParams parses exactly "m=<uint32>,t=<uint32>,p=<uint8>".
func cutParams(s string) (m, t, p uint64, ok bool) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, false
	}
	num := func(field, name string, bits int) uint64 {
		v, found := strings.CutPrefix(field, name+"=")
		if !found {
			ok = false
			return 0
		}
		n, err := strconv.ParseUint(v, 10, bits) // no sign, no spaces
		if err != nil {
			ok = false
		}
		return n
	}
	ok = true
	m, t, p = num(fields[0], "m", 32), num(fields[1], "t", 32), num(fields[2], "p", 8)
	return m, t, p, ok
}

// Check reports whether pw matches the PHC string, in constant time with
// respect to the key. A malformed hash never matches.
func (h *Hasher) Check(pw, encoded string) (bool, error) {
	p, err := parse(encoded)
	if err != nil {
		return false, err
	}
	// #nosec G115 -- a length that wrapped (a stored key over 4 GiB) gives a
	// key of another length, which ConstantTimeCompare never matches.
	key := argon2.IDKey([]byte(pw), p.salt, p.params.Iterations, p.params.MemoryKiB, p.params.Parallelism, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// CheckNobody spends the same time as Check against a real hash and always
// fails: the login path calls it when the user does not exist.
func (h *Hasher) CheckNobody(pw string) {
	start := time.Now()
	_, _ = h.Check(pw, h.dummy) // for the time it takes: the dummy hash never matches and parses
	h.cost.add(time.Since(start))
}

// CheckLogin is Check for the login path, where a failure must cost what a
// check at the current parameters costs, whoever the user. A hash made
// before the parameters were raised is cheaper to check until the user's
// next login rehashes it: without more, a wrong password for such a user
// answered in a fraction of the time an unknown user's did (measured: 30
// ms against 175 ms), which tells that the account exists (ASVS 6.3.8).
// So when such a check fails, pad is how much longer a check at the
// current parameters takes: the median of the recent ones, less the time
// this check took. The caller waits pad out after releasing the hashing
// budget, so that the wait holds no memory. A check at the current
// parameters is itself a sample of that cost, and pads nothing.
func (h *Hasher) CheckLogin(pw, encoded string) (ok bool, pad time.Duration, err error) {
	start := time.Now()
	ok, err = h.Check(pw, encoded)
	took := time.Since(start)
	if p, perr := parse(encoded); perr == nil && p.params == h.params {
		h.cost.add(took)
		return ok, 0, err
	}
	if ok {
		return true, 0, err // the login succeeds, and then rehashes
	}
	return false, max(0, h.cost.median()-took), err
}

// costs is a small ring of recent durations; its median follows the
// machine's load without one slow hash (a GC pause) moving it much.
type costs struct {
	mu   sync.Mutex
	ring [15]time.Duration
	n    int // samples written so far
}

func (c *costs) add(d time.Duration) {
	c.mu.Lock()
	c.ring[c.n%len(c.ring)] = d
	c.n++
	c.mu.Unlock()
}

func (c *costs) median() time.Duration {
	c.mu.Lock()
	s := slices.Clone(c.ring[:min(c.n, len(c.ring))])
	c.mu.Unlock()
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	return s[len(s)/2]
}

// NeedsRehash reports whether encoded was made with other parameters than
// the current ones, so a successful login should store a fresh hash.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, err := parse(encoded)
	return err != nil || p.params != h.params || len(p.key) != keyLen
}
