package guard

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

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
