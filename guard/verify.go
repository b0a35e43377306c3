package guard

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Verify checks an access token and returns its principal: size and shape
// first, then the header, the key by kid, the signature, and only then the
// claims (ASVS 9.1.1, RFC 8725 §3). A token verified before is answered
// from the cache; the session's revocation, and the feed's health, are
// checked on every call, cached or not.
//
// Why not go-jose here: its generic parse (any JWS serialisation, any
// algorithm, maps of headers) measured about 1.3× the cost of the bare
// signature check for a whole verification, and the goal is at most 1.2×.
// The guard accepts one shape only — compact JWS, three base64url segments,
// one of three algorithms — so the check is short: a pass over the bytes,
// a header of a few fields, one standard-library signature call, one JSON
// decode of the claims. go-jose still parses the key sets (keys.go), where
// generality matters and speed does not.
func (g *Guard) Verify(ctx context.Context, raw string) (*Principal, error) {
	now := g.now()
	p, err := g.authenticate(ctx, raw, now)
	if err == nil {
		err = g.checkSession(p, now)
	}
	if err != nil {
		g.counters.refuse(reasonOf(err))
		return nil, err
	}
	return p, nil
}

// authenticate answers from the cache or verifies raw. On ErrExpired alone
// it also returns the expired token's principal (for in-line refresh);
// with any other error the principal is nil.
func (g *Guard) authenticate(ctx context.Context, raw string, now time.Time) (*Principal, error) {
	if g.cache != nil {
		if p, ok := g.cache.get(raw, now.UnixNano()); ok {
			return p, nil
		}
	}
	p, err := g.verifyToken(ctx, raw, now)
	if err != nil {
		return p, err
	}
	g.counters.verified.Add(1)
	if g.cache != nil && now.Before(p.ExpiresAt) {
		// A copy, so the entry does not pin whatever larger string (a
		// header line) raw was cut from.
		g.cache.put(strings.Clone(raw), p, p.ExpiresAt.UnixNano(), now.UnixNano())
	}
	return p, nil
}

// checkSession refuses a revoked session, and any session while the
// revocation feed is silent (unless FailOpen).
func (g *Guard) checkSession(p *Principal, now time.Time) error {
	rv := g.cfg.Revocations
	if rv == nil {
		return nil
	}
	if rv.Revoked(p.SessionID) {
		return ErrRevoked
	}
	last := rv.LastContact()
	since := g.started
	if !last.IsZero() {
		since = last.UnixNano()
	}
	if lag := now.UnixNano() - since; lag > int64(g.cfg.FeedMaxLag) {
		return g.feedDown(now, time.Duration(lag), last.IsZero())
	}
	return nil
}

// feedDown logs (at most once per FeedMaxLag), counts, and fails closed
// or open.
func (g *Guard) feedDown(now time.Time, lag time.Duration, never bool) error {
	n := now.UnixNano()
	prev := g.feedLog.Load()
	if n-prev >= int64(g.cfg.FeedMaxLag) && g.feedLog.CompareAndSwap(prev, n) {
		msg := "guard: revocation feed unavailable; refusing every request (fail closed)"
		if g.cfg.FailOpen {
			msg = "guard: revocation feed unavailable; letting requests through (FailOpen)"
		}
		g.cfg.Log.Warn(msg, "lag", lag.Round(time.Second), "never_contacted", never, "max_lag", g.cfg.FeedMaxLag)
	}
	if g.cfg.FailOpen {
		g.counters.feedOpen.Add(1)
		return nil
	}
	return ErrFeedDown
}

// verifyToken is the uncached verification.
func (g *Guard) verifyToken(ctx context.Context, raw string, now time.Time) (*Principal, error) {
	// Shape before any decoding: bounded length, exactly two dots, and
	// only base64url characters, so no decoder sees padding, whitespace or
	// line breaks (which Go's base64 would silently skip) and many-dotted
	// input costs one pass (CVE-2025-30204, CVE-2025-27144).
	if len(raw) == 0 || len(raw) > MaxTokenLen {
		return nil, fmt.Errorf("%w: length", ErrMalformed)
	}
	d1, d2 := -1, -1
	for i := 0; i < len(raw); i++ {
		switch jwsClass[raw[i]] {
		case 1:
		case 2:
			if d1 < 0 {
				d1 = i
			} else if d2 < 0 {
				d2 = i
			} else {
				return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
			}
		default:
			return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
		}
	}
	if d2 < 0 || d1 == 0 || d2 == d1+1 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	hb, err := g.b64.DecodeString(raw[:d1])
	if err != nil {
		return nil, fmt.Errorf("%w: header encoding", ErrMalformed)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	ai := algIndex(h.alg)
	if ai < 0 || !g.algs[ai] {
		return nil, fmt.Errorf("%w: algorithm not allowed", ErrSignature)
	}
	if h.kid == "" {
		return nil, fmt.Errorf("%w: no kid", ErrSignature)
	}
	key, err := g.cfg.Keys.Key(ctx, h.kid)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %w", ErrSignature, err)
	}
	if key.Alg != h.alg {
		return nil, fmt.Errorf("%w: algorithm does not match the key", ErrSignature)
	}
	sig, err := g.b64.DecodeString(raw[d2+1:])
	if err != nil {
		return nil, fmt.Errorf("%w: signature encoding", ErrSignature)
	}
	if err := verifySignature(key, raw[:d2], sig); err != nil {
		return nil, err
	}

	// The signature holds: header and claims are now the issuer's words.
	if !isAccessTokenType(h.typ) {
		return nil, fmt.Errorf("%w: typ is not at+jwt (RFC 9068 §2.1)", ErrClaims)
	}
	pb, err := g.b64.DecodeString(raw[d1+1 : d2])
	if err != nil {
		return nil, fmt.Errorf("%w: payload encoding", ErrMalformed)
	}
	c, err := parseClaims(pb)
	if err != nil {
		return nil, err
	}
	return g.checkClaims(&c, now)
}

// jwsClass classifies a byte of a compact JWS: 1 for the base64url
// alphabet (RFC 4648 §5), 2 for the dot, 0 for anything else.
const jwsClass = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x02\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00" +
	"\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x01" +
	"\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// checkClaims checks the claims in an order that leaves expiry last, so
// that ErrExpired means "valid in every other respect" — the one case
// in-line refresh may act on.
func (g *Guard) checkClaims(c *claims, now time.Time) (*Principal, error) {
	leeway := g.cfg.Leeway
	switch {
	case c.Iss != g.cfg.Issuer:
		return nil, fmt.Errorf("%w: iss", ErrClaims)
	case !c.Aud.contains(g.cfg.Audience):
		return nil, fmt.Errorf("%w: aud", ErrClaims)
	case c.Exp == nil || c.Iat == nil:
		return nil, fmt.Errorf("%w: exp and iat are required (RFC 9068 §2.2)", ErrClaims)
	case c.Sub == "" || c.Jti == "":
		return nil, fmt.Errorf("%w: sub and jti are required (RFC 9068 §2.2)", ErrClaims)
	case c.Sid == "":
		// Without a session id revocation could not be checked.
		return nil, fmt.Errorf("%w: sid is required", ErrClaims)
	case c.Nbf != nil && now.Add(leeway).Before(c.Nbf.t):
		return nil, fmt.Errorf("%w: nbf", ErrNotYetValid)
	case now.Add(leeway).Before(c.Iat.t):
		return nil, fmt.Errorf("%w: iat", ErrNotYetValid)
	}
	p := &Principal{
		Subject:   c.Sub,
		Username:  c.Username,
		SessionID: c.Sid,
		ClientID:  c.ClientID,
		Roles:     c.Roles,
		Scopes:    strings.Fields(c.Scope),
		IssuedAt:  c.Iat.t,
		ExpiresAt: c.Exp.t,
		TokenID:   c.Jti,
		CSRFHash:  c.CSRFHash,
	}
	if c.AuthTime != nil {
		p.AuthTime = c.AuthTime.t
	}
	if now.Add(-leeway).After(c.Exp.t) {
		return p, ErrExpired
	}
	return p, nil
}

// isAccessTokenType accepts the RFC 9068 §2.1 type in either form; media
// types are case-insensitive (RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

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

// header holds the JOSE header fields the guard uses.
type header struct{ alg, kid, typ string }

// refusedHeader reports the header parameters the guard will not ignore:
// keys or key locations embedded in the token (RFC 8725 §3.10: a key must
// come from the configured source, never from the token), critical
// extensions it does not implement (RFC 7515 §4.1.11 requires refusing
// them), unencoded payloads (RFC 7797) and compression (RFC 8725 §3.6).
// Compared case-insensitively: a near-miss spelling is refused too.
func refusedHeader(k []byte) bool {
	for _, r := range [...]string{"jwk", "jku", "x5u", "x5c", "crit", "b64", "zip"} {
		if bytes.EqualFold(k, []byte(r)) {
			return true
		}
	}
	return false
}

// Bounds on the members of a header and of a claims set: Gatehouse's
// have 3 and about 15.
const (
	maxHeaderParams = 16
	maxClaims       = 64
)

// The JSON of the header and the claims is read by a small scanner
// rather than encoding/json's reflection, for two reasons. Strictness: a
// duplicate member is refused rather than "last one wins" (RFC 7515 §4,
// RFC 7519 §4), and names match exactly (encoding/json matches field
// names case-insensitively, so {"ALG":...} would fill alg). Speed: one
// validation pass and one scan, which keeps a cold verification within
// 1.2× of the bare signature check (docs/benchmarks.md).

// parseHeader reads a JOSE header (RFC 7515 §4). Parameter names are
// compared case-insensitively for duplicates and for the refused ones.
func parseHeader(b []byte) (header, error) {
	var h header
	err := members(b, maxHeaderParams, true, func(name []byte, val string) error {
		if refusedHeader(name) {
			return fmt.Errorf("%w: header parameter %s is refused (RFC 8725 §3.10)", ErrMalformed, name)
		}
		var dst *string
		switch string(name) {
		case "alg":
			dst = &h.alg
		case "kid":
			dst = &h.kid
		case "typ":
			dst = &h.typ
		default:
			for _, k := range [...]string{"alg", "kid", "typ"} {
				if bytes.EqualFold(name, []byte(k)) {
					return fmt.Errorf("%w: header parameter %s in the wrong case", ErrMalformed, k)
				}
			}
			return nil
		}
		var err error
		*dst, err = jsonString(val)
		return err
	})
	if err != nil {
		return header{}, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	return h, nil
}

// claims are the access-token claims the guard reads (RFC 9068 §2.2, RFC
// 7519 §4.1). Others are ignored.
type claims struct {
	Iss, Sub, Jti, ClientID, Sid string
	Username, Scope, CSRFHash    string
	Aud                          audience
	Exp, Nbf, Iat, AuthTime      *numericDate
	Roles                        []string
}

// parseClaims reads a JWT claims set.
func parseClaims(b []byte) (claims, error) {
	var c claims
	err := members(b, maxClaims, false, func(name []byte, val string) error {
		var (
			str *string
			nd  **numericDate
		)
		switch string(name) {
		case "iss":
			str = &c.Iss
		case "sub":
			str = &c.Sub
		case "jti":
			str = &c.Jti
		case "client_id":
			str = &c.ClientID
		case "sid":
			str = &c.Sid
		case "preferred_username":
			str = &c.Username
		case "scope":
			str = &c.Scope
		case "csrf_hash":
			str = &c.CSRFHash
		case "exp":
			nd = &c.Exp
		case "nbf":
			nd = &c.Nbf
		case "iat":
			nd = &c.Iat
		case "auth_time":
			nd = &c.AuthTime
		case "aud":
			// RFC 7519 §4.1.3: a string or an array of strings; handling
			// only one form was CVE-2020-26160.
			if val[0] == '"' {
				s, err := jsonString(val)
				c.Aud = audience{s}
				return err
			}
			var err error
			c.Aud, err = jsonStrings(val)
			return err
		case "roles":
			var err error
			c.Roles, err = jsonStrings(val)
			return err
		default:
			return nil
		}
		if val == "null" {
			return nil // as if absent
		}
		if str != nil {
			var err error
			*str, err = jsonString(val)
			return err
		}
		d, err := parseNumericDate(val)
		*nd = d
		return err
	})
	if err != nil {
		return claims{}, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	return c, nil
}

var (
	errNotObject = errors.New("not a JSON object")
	errTooMany   = errors.New("too many members")
	errDuplicate = errors.New("duplicate member")
	errEscaped   = errors.New("escaped member name")
	errNotString = errors.New("not a string")
	errNotArray  = errors.New("not an array of strings")
)

// members calls fn with the name and raw value of each member of the JSON
// object b; the values are substrings of one copy of b, so the strings
// taken from them cost no further allocation. It refuses invalid JSON, more than max members, a member name
// given twice (compared case-insensitively if fold), invalid UTF-8 (which
// encoding/json would silently replace) and escaped names
// (which could spell a refused name in disguise, "\u006awk" for "jwk").
func members(b []byte, max int, fold bool, fn func(name []byte, val string) error) error {
	if !json.Valid(b) || !utf8.Valid(b) { // RFC 8259 §8.1: JSON text is UTF-8
		return errors.New("not JSON")
	}
	str := string(b)
	// From here the input is valid JSON, which keeps the scan simple.
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return errNotObject
	}
	var seen [maxClaims][]byte
	n := 0
	for i = skipSpace(b, i+1); b[i] != '}'; i = skipSpace(b, i) {
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
		end := stringEnd(b, i)
		name := b[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return errEscaped
		}
		if n == max {
			return errTooMany
		}
		for _, s := range seen[:n] {
			if bytes.Equal(s, name) || fold && bytes.EqualFold(s, name) {
				return errDuplicate
			}
		}
		seen[n] = name
		n++
		i = skipSpace(b, skipSpace(b, end)+1) // past the colon
		vend := valueEnd(b, i)
		if err := fn(name, str[i:vend]); err != nil {
			return err
		}
		i = vend
	}
	return nil
}

// jsonString returns the value of a JSON string.
func jsonString(val string) (string, error) {
	if len(val) < 2 || val[0] != '"' {
		return "", errNotString
	}
	if strings.IndexByte(val, '\\') < 0 {
		return val[1 : len(val)-1], nil
	}
	var s string
	err := json.Unmarshal([]byte(val), &s)
	return s, err
}

// jsonStrings returns the values of a JSON array of strings.
func jsonStrings(val string) ([]string, error) {
	if val[0] != '[' {
		return nil, errNotArray
	}
	out := []string{}
	for i := skipSpace(val, 1); val[i] != ']'; i = skipSpace(val, i) {
		if val[i] == ',' {
			i = skipSpace(val, i+1)
		}
		end := stringEnd(val, i)
		if end < 0 {
			return nil, errNotArray
		}
		s, err := jsonString(val[i:end])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		i = end
	}
	return out, nil
}

func skipSpace[T string | []byte](b T, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at i, or
// -1 if none starts there.
func stringEnd[T string | []byte](b T, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the valid JSON value at i.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for j < len(b) && strings.IndexByte(",}] \t\r\n", b[j]) < 0 {
			j++
		}
		return j
	}
}

// audience is the aud claim as a list.
type audience []string

func (a audience) contains(s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// numericDate is an RFC 7519 §2 NumericDate: seconds since the epoch,
// possibly fractional.
type numericDate struct{ t time.Time }

// maxNumericDate is 2^33 seconds (the year 2242): far beyond any real
// token, and inside what int64 nanoseconds, which the cache uses, hold.
const maxNumericDate = 1 << 33

func parseNumericDate(val string) (*numericDate, error) {
	v, err := strconv.ParseFloat(val, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > maxNumericDate {
		return nil, errors.New("not a NumericDate in range")
	}
	sec, frac := math.Modf(v)
	return &numericDate{t: time.Unix(int64(sec), int64(frac*1e9))}, nil
}
