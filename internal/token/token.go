package token

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
)

// TypeAccessToken is the JOSE "typ" of an access token (RFC 9068 §2.1). A
// verifier that checks it cannot be handed an ID token or any other JWT
// signed by the same key in place of an access token (RFC 8725 §3.11).
const TypeAccessToken = "at+jwt"

// MaxLen bounds a token before it is parsed: a JWT this server issues is
// well under 2 KiB, and a bound stops a huge or many-dotted token from
// costing parse time (CVE-2025-30204, CVE-2025-27144).
const MaxLen = 8 << 10

// Errors returned by Verify, wrapped; callers branch with errors.Is.
var (
	// ErrMalformed: not a compact JWS this server could have issued.
	ErrMalformed = errors.New("token: malformed")
	// ErrSignature: unknown key, disallowed algorithm or bad signature.
	ErrSignature = errors.New("token: invalid signature")
	// ErrExpired: the token's exp has passed (beyond the leeway).
	ErrExpired = errors.New("token: expired")
	// ErrClaims: a claim (typ, iss, aud, nbf, iat) does not hold.
	ErrClaims = errors.New("token: invalid claims")
)

// Claims are an access token's claims (RFC 9068 §2.2).
type Claims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
	ClientID  string           `json:"client_id"`
	SessionID string           `json:"sid"`
	AuthTime  int64            `json:"auth_time"`
	Username  string           `json:"preferred_username,omitempty"`
	Roles     []string         `json:"roles"`
	Scope     string           `json:"scope,omitempty"`
	// CSRFHash binds the session's CSRF token to this access token:
	// base64url (no padding) of the SHA-256 of the CSRF token handed out
	// with it. A resource server's guard, which has no CSRF key, checks a
	// cookie-borne unsafe request's X-XSRF-TOKEN against it (the OWASP
	// signed double-submit pattern, the signature being the JWT's).
	CSRFHash string `json:"csrf_hash,omitempty"`
}

// Issuer signs access tokens.
type Issuer struct {
	keys     *Keyring
	clock    clock.Clock
	issuer   string
	audience []string
	ttl      time.Duration
}

// NewIssuer returns an Issuer for tokens with the given iss and aud that
// live ttl.
func NewIssuer(keys *Keyring, c clock.Clock, issuer string, audience []string, ttl time.Duration) *Issuer {
	return &Issuer{keys: keys, clock: c, issuer: issuer, audience: audience, ttl: ttl}
}

// TTL is the lifetime of the tokens this issuer makes.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Subject is what an access token is about.
type Subject struct {
	UserID    string
	Username  string
	SessionID string
	ClientID  string
	AuthTime  time.Time
	Roles     []string
	Scope     string
	// NotAfter caps the token's expiry (the session's absolute end).
	NotAfter time.Time
	// CSRFHash is the csrf_hash claim (see Claims.CSRFHash); empty omits it.
	CSRFHash string
}

// Issue signs a fresh access token and returns it with its jti and expiry.
func (i *Issuer) Issue(ctx context.Context, s Subject) (raw, jti string, exp time.Time, err error) {
	key, err := i.keys.Signing(ctx)
	if err != nil {
		return "", "", time.Time{}, err
	}
	now := i.clock.Now()
	exp = now.Add(i.ttl)
	if !s.NotAfter.IsZero() && s.NotAfter.Before(exp) {
		exp = s.NotAfter
	}
	jti = rand.Text()
	roles := s.Roles
	if roles == nil {
		roles = []string{}
	}
	c := Claims{
		Issuer:    i.issuer,
		Subject:   s.UserID,
		Audience:  i.audience,
		Expiry:    jwt.NewNumericDate(exp),
		NotBefore: jwt.NewNumericDate(now),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        jti,
		ClientID:  s.ClientID,
		SessionID: s.SessionID,
		AuthTime:  s.AuthTime.Unix(),
		Username:  s.Username,
		Roles:     roles,
		Scope:     s.Scope,
		CSRFHash:  s.CSRFHash,
	}
	raw, err = jwt.Signed(key.signer).Claims(c).Serialize()
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("token: sign: %w", err)
	}
	return raw, jti, exp.Truncate(time.Second), nil
}

// Verifier checks access tokens against the keyring.
type Verifier struct {
	keys     *Keyring
	clock    clock.Clock
	issuer   string
	audience string
	leeway   time.Duration
}

// NewVerifier returns a Verifier accepting tokens from issuer for
// audience, allowing leeway of clock skew on exp, nbf and iat.
func NewVerifier(keys *Keyring, c clock.Clock, issuer, audience string, leeway time.Duration) *Verifier {
	return &Verifier{keys: keys, clock: c, issuer: issuer, audience: audience, leeway: leeway}
}

var allowedAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}

// Verify checks raw's size, algorithm, key, signature and claims, in that
// order: no claim is read before the signature holds (ASVS 9.1.1).
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) == 0 || len(raw) > MaxLen || strings.Count(raw, ".") != 2 {
		return nil, ErrMalformed
	}
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(tok.Headers) != 1 {
		return nil, ErrMalformed
	}
	h := tok.Headers[0]
	// The key comes only from the keyring, found by kid; any jwk, jku, x5u
	// or x5c in the header is ignored (RFC 8725 §3.5, ASVS 9.1.3).
	key, err := v.keys.Lookup(ctx, h.KeyID)
	if err != nil || key.Alg != h.Algorithm {
		return nil, ErrSignature
	}
	var c Claims
	if err := tok.Claims(key.Public(), &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	// Signature holds: now the header and claims are trustworthy input.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isAccessTokenType(typ) {
		return nil, fmt.Errorf("%w: typ %q", ErrClaims, typ)
	}
	now := v.clock.Now()
	switch {
	case c.Issuer != v.issuer:
		return nil, fmt.Errorf("%w: iss", ErrClaims)
	case !slices.Contains([]string(c.Audience), v.audience):
		return nil, fmt.Errorf("%w: aud", ErrClaims)
	case c.Expiry == nil || c.IssuedAt == nil || c.Subject == "" || c.SessionID == "" || c.ID == "":
		return nil, fmt.Errorf("%w: missing claim", ErrClaims)
	case now.Add(-v.leeway).After(c.Expiry.Time()):
		return nil, ErrExpired
	case c.NotBefore != nil && now.Add(v.leeway).Before(c.NotBefore.Time()):
		return nil, fmt.Errorf("%w: nbf", ErrClaims)
	case now.Add(v.leeway).Before(c.IssuedAt.Time()):
		return nil, fmt.Errorf("%w: iat", ErrClaims)
	}
	return &c, nil
}

func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, TypeAccessToken) || strings.EqualFold(typ, "application/"+TypeAccessToken)
}
