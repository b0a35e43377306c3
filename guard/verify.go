package guard

import (
	"context"
	"fmt"
	"strings"
	"time"
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
		g.refuse(reasonOf(err))
		return nil, err
	}
	return p, nil
}

// authenticate answers from the cache or verifies raw. On ErrExpired alone
// it also returns the expired token's principal (for in-line refresh);
// with any other error the principal is nil.
func (g *Guard) authenticate(ctx context.Context, raw string, now time.Time) (*Principal, error) {
	if g.cache != nil {
		p, ok := g.cache.get(raw, now.UnixNano())
		if m := g.cfg.Metrics; m != nil {
			m.CacheLookup(ok)
		}
		if ok {
			return p, nil
		}
	}
	p, err := g.verifyToken(ctx, raw, now)
	if err != nil {
		return p, err
	}
	if m := g.cfg.Metrics; m != nil {
		m.Verified()
	}
	if g.cache != nil && now.Before(p.ExpiresAt) {
		// A copy, so the entry does not pin whatever larger string (a
		// header line) raw was cut from.
		g.cache.put(strings.Clone(raw), p, p.ExpiresAt.UnixNano(), now.UnixNano())
	}
	return p, nil
}

// verifyToken is the uncached verification.
func (g *Guard) verifyToken(ctx context.Context, raw string, now time.Time) (*Principal, error) {
	// Shape before any decoding: bounded length, exactly two dots, and
	// only base64url characters, so no decoder sees padding, whitespace or
	// line breaks (which Go's base64 would silently skip) and many-dotted
	// input costs one pass (CVE-2025-30204, CVE-2025-27144).
	if len(raw) == 0 || len(raw) > maxTokenLen {
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
