package token

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
)

// TypeAccessToken is the JOSE "typ" of an access token (RFC 9068 §2.1). A
// verifier that checks it (the guard does) cannot be handed an ID token or
// any other JWT signed by the same key in place of an access token (RFC
// 8725 §3.11).
const TypeAccessToken = "at+jwt"

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
// live ttl, signed by keys, which must be an access keyring (PurposeAccess;
// Issue refuses to sign with another).
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
	// Audience is the aud claim; empty means the issuer's default.
	Audience []string
	AuthTime time.Time
	Roles    []string
	Scope    string
	// NotAfter caps the token's expiry (the session's absolute end).
	NotAfter time.Time
	// TTL, when not zero and shorter than the issuer's, is this token's
	// lifetime (its client registered a shorter one).
	TTL time.Duration
	// CSRFHash is the csrf_hash claim (see Claims.CSRFHash); empty omits it.
	CSRFHash string
}

// Issue signs a fresh access token and returns it with its jti and expiry.
func (i *Issuer) Issue(ctx context.Context, s Subject) (raw, jti string, exp time.Time, err error) {
	if p := i.keys.Purpose(); p != PurposeAccess {
		return "", "", time.Time{}, fmt.Errorf("token: access tokens are signed by access keys, not %s keys", p)
	}
	key, err := i.keys.Signing(ctx)
	if err != nil {
		return "", "", time.Time{}, err
	}
	now := i.clock.Now()
	ttl := i.ttl
	if s.TTL > 0 && s.TTL < ttl {
		ttl = s.TTL
	}
	exp = now.Add(ttl)
	if !s.NotAfter.IsZero() && s.NotAfter.Before(exp) {
		exp = s.NotAfter
	}
	jti = rand.Text()
	aud := i.audience
	if len(s.Audience) > 0 {
		aud = s.Audience
	}
	roles := s.Roles
	if roles == nil {
		roles = []string{}
	}
	c := Claims{
		Issuer:    i.issuer,
		Subject:   s.UserID,
		Audience:  aud,
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
	raw, err = key.Sign(c)
	if err != nil {
		return "", "", time.Time{}, err
	}
	return raw, jti, exp.Truncate(time.Second), nil
}
