// Package csrf mints and checks CSRF tokens for the signed double-submit
// pattern (OWASP CSRF Prevention Cheat Sheet, "Signed Double-Submit
// Cookie"): the token is a random nonce plus an HMAC over the session id and
// that nonce. A plain random double-submit value is not enough: an attacker
// who can plant a cookie (a sibling subdomain, a man-in-the-middle on plain
// HTTP) could plant a value and send it back in the header. A signed token
// is only valid for the session it was minted for, and only the server (and
// guards sharing its key) can mint one.
package csrf

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
)

const nonceLen = 16

// MaxLen bounds a token before any work is done on it.
const MaxLen = 128

// Keyed mints tokens with one HMAC key and checks them against it and
// any previous keys still accepted.
type Keyed struct {
	keys [][]byte // keys[0] mints; every one is accepted
}

// New returns a Keyed minting with key and also accepting tokens minted
// with any of previous (during a key change, so that pages holding a
// token from before it keep working until their next refresh). Every key
// must be at least 32 bytes.
func New(key []byte, previous ...[]byte) *Keyed {
	k := &Keyed{}
	for _, x := range append([][]byte{key}, previous...) {
		if len(x) < 32 {
			panic("csrf: key shorter than 32 bytes")
		}
		k.keys = append(k.keys, append([]byte(nil), x...))
	}
	return k
}

// DeriveKey returns the HMAC key for a stored secret sealed under a
// key-encryption key: HMAC-SHA-256(kek, label || secret). The secret lives
// in the database; with a KEK configured, a copy of the database alone
// (a stolen backup) no longer yields the key that mints CSRF tokens, as it
// no longer yields the signing keys. With a nil kek the secret is the key.
func DeriveKey(secret, kek []byte) []byte {
	if kek == nil {
		return secret
	}
	m := hmac.New(sha256.New, kek)
	m.Write([]byte("gatehouse csrf key v1\x00"))
	m.Write(secret)
	return m.Sum(nil)
}

// Strict: unused low bits in a token's last characters must be zero, so a
// token has one spelling and cannot be altered without failing the check.
var b64 = base64.RawURLEncoding.Strict()

func mac(key []byte, sid string, nonce []byte) []byte {
	m := hmac.New(sha256.New, key)
	// Length-prefixed so that no (sid, nonce) pair can collide with another.
	m.Write([]byte(strconv.Itoa(len(sid)) + "!" + sid + "!"))
	m.Write(nonce)
	return m.Sum(nil)
}

// Mint returns the session's token: the same value every time for the same
// session id and key, so the token stays one value for the life of the
// session. Clients that set the CSRF header once and never overwrite it
// (Angular's HttpClient XSRF interceptor keeps a header already set) can
// retry a request after a refresh with the header they first sent; a
// token that changed at every refresh failed exactly that retry. The
// nonce is an HMAC of the session id under the key (a synthetic nonce, as
// in RFC 5297's SIV): unpredictable without the key, and still part of
// the MACed value, so the token format and Valid are unchanged. It changes
// only when the minting key does (a key_encryption_key rotation).
func (k *Keyed) Mint(sid string) string {
	n := hmac.New(sha256.New, k.keys[0])
	n.Write([]byte("gatehouse csrf nonce v1\x00" + strconv.Itoa(len(sid)) + "!" + sid))
	nonce := n.Sum(nil)[:nonceLen]
	return b64.EncodeToString(nonce) + "." + b64.EncodeToString(mac(k.keys[0], sid, nonce))
}

// Valid reports whether token was minted by this key for the session id.
// The comparison is constant-time.
func (k *Keyed) Valid(sid, token string) bool {
	if sid == "" || len(token) > MaxLen {
		return false
	}
	// Only the alphabet and the dot: Go's base64 decoders, Strict too,
	// skip "\r" and "\n", so without this a token with a line break in it
	// was another spelling of a good one (found by FuzzValid).
	for i := 0; i < len(token); i++ {
		if c := token[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	n, m, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	nonce, err := b64.DecodeString(n)
	if err != nil || len(nonce) != nonceLen {
		return false
	}
	got, err := b64.DecodeString(m)
	if err != nil {
		return false
	}
	ok = false
	for _, key := range k.keys {
		// Every key is tried, so the time does not say which one matched.
		if hmac.Equal(got, mac(key, sid, nonce)) {
			ok = true
		}
	}
	return ok
}

// Hash returns the SHA-256 of a token, the form a session record keeps.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// ClaimHash is Hash in the form the access token's csrf_hash claim carries
// it: base64url without padding (RFC 4648 §5), as JOSE encodes binary
// values (RFC 7515 §2). A verifier without the HMAC key checks a presented
// CSRF token by hashing it the same way and comparing in constant time.
func ClaimHash(token string) string {
	return base64.RawURLEncoding.EncodeToString(Hash(token))
}
