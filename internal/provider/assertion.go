package provider

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// assertionMaxLife bounds an assertion's remaining life: a client signs
// one per request, and a long-lived one would be a bearer secret.
const assertionMaxLife = 10 * time.Minute

// assertionLeeway is the clock skew allowed on exp, nbf and iat.
const assertionLeeway = 30 * time.Second

// assertionAlgorithms are the algorithms a client may sign with.
var assertionAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA}

// errAssertion is every refusal of a client assertion: the answer is
// invalid_client whatever the reason.
var errAssertion = errors.New("provider: client assertion refused")

// assertionClaims are the claims of a private_key_jwt assertion (RFC
// 7523 §3, OpenID Connect Core §9).
type assertionClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

// verifyAssertion authenticates a client by private_key_jwt: a JWT it
// signed with one of its registered keys, issued by and about itself
// (iss = sub = client_id), for this server (aud: the issuer, the token
// endpoint or the endpoint called), unexpired and short-lived, and never
// used before (its jti, remembered until it expires, on any node).
func (p *Provider) verifyAssertion(ctx context.Context, assertion, claimedID, endpoint string) (store.Client, error) {
	if len(assertion) > 8<<10 {
		return store.Client{}, errAssertion
	}
	jws, err := jose.ParseSignedCompact(assertion, assertionAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return store.Client{}, errAssertion
	}
	var unverified assertionClaims
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified) != nil || unverified.Issuer == "" {
		return store.Client{}, errAssertion
	}
	id := unverified.Issuer
	if claimedID != "" && claimedID != id {
		return store.Client{}, errAssertion
	}
	c, err := p.clientOf(ctx, id)
	if err != nil || c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		return store.Client{}, errAssertion
	}
	set, err := ParseClientKeys(c.JWKS)
	if err != nil {
		return store.Client{}, errAssertion
	}
	h := jws.Signatures[0].Protected
	keys := set.Keys
	if h.KeyID != "" {
		keys = set.Key(h.KeyID)
	} else if len(keys) > 1 {
		return store.Client{}, errAssertion // which key? several need a kid
	}
	if len(keys) != 1 {
		return store.Client{}, errAssertion
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return store.Client{}, errAssertion
	}
	var cl assertionClaims
	if json.Unmarshal(payload, &cl) != nil {
		return store.Client{}, errAssertion
	}
	now := p.d.Clock.Now()
	base := strings.TrimSuffix(p.cfg.Issuer.String(), "/")
	switch {
	case cl.Issuer != id, cl.Subject != id, cl.ID == "", len(cl.ID) > 256, cl.Expiry == nil:
		return store.Client{}, errAssertion
	case !slices.ContainsFunc(cl.Audience, func(a string) bool {
		return a == p.cfg.Issuer.String() || a == base || a == base+PathToken || a == endpoint
	}):
		return store.Client{}, errAssertion
	case !now.Before(cl.Expiry.Time().Add(assertionLeeway)), cl.Expiry.Time().Sub(now) > assertionMaxLife+assertionLeeway:
		return store.Client{}, errAssertion
	case cl.NotBefore != nil && now.Add(assertionLeeway).Before(cl.NotBefore.Time()),
		cl.IssuedAt != nil && now.Add(assertionLeeway).Before(cl.IssuedAt.Time()):
		return store.Client{}, errAssertion
	}
	jti := sha256.Sum256([]byte(cl.ID))
	if err := p.d.Store.UseClientAssertion(ctx, id, jti[:], cl.Expiry.Time().Add(assertionLeeway)); err != nil {
		if !errors.Is(err, store.ErrAlreadySpent) {
			p.d.Log.Error("recording a client assertion failed", "client_id", id, "err", err)
		}
		return store.Client{}, errAssertion
	}
	return c, nil
}

// assertionType is the one client_assertion_type (RFC 7523 §2.2).
const assertionType = oidc.ClientAssertionTypeJWTAssertion
