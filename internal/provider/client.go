package provider

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// opClient presents a registered client to op, which checks the grant
// type against it before any handler runs.
type opClient struct{ c store.Client }

var _ op.Client = opClient{}

func (o opClient) GetID() string                    { return o.c.ID }
func (o opClient) RedirectURIs() []string           { return o.c.RedirectURIs }
func (o opClient) PostLogoutRedirectURIs() []string { return o.c.PostLogoutRedirectURIs }
func (o opClient) ApplicationType() op.ApplicationType {
	if o.c.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (o opClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethod(o.c.TokenEndpointAuthMethod) }
func (o opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (o opClient) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, len(o.c.GrantTypes))
	for i, g := range o.c.GrantTypes {
		out[i] = oidc.GrantType(g)
	}
	return out
}
func (o opClient) LoginURL(string) string              { return PathLogin }
func (o opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (o opClient) IDTokenLifetime() time.Duration      { return defaultIDTokenTTL }
func (o opClient) DevMode() bool                       { return false }
func (o opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (o opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (o opClient) IsScopeAllowed(s string) bool         { return slices.Contains(o.c.Scopes, s) }
func (o opClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (o opClient) ClockSkew() time.Duration             { return 0 }

// invalidClient is RFC 6749 §5.2's invalid_client, with 401: the one
// answer for an unknown client, a wrong secret and a wrong method, so
// that client ids cannot be probed.
func invalidClient() error {
	return op.NewStatusError(oidc.ErrInvalidClient().WithDescription("client authentication failed"), http.StatusUnauthorized)
}

// authenticate checks the credentials a request to the token,
// introspection, revocation or PAR endpoint (at the URL endpoint)
// carries: the client's secret, in the Authorization header or the form
// (RFC 6749 §2.3.1), a private_key_jwt assertion (RFC 7523 §2.2), or, for
// a public client, its id alone. An unknown client costs the same secret
// comparison as a known one.
func (p *Provider) authenticate(ctx context.Context, cc *op.ClientCredentials, basic bool, endpoint string) (store.Client, error) {
	if cc.ClientAssertion != "" {
		if basic || cc.ClientSecret != "" || cc.ClientAssertionType != assertionType {
			return store.Client{}, invalidClient() // one method at a time (RFC 6749 §2.3)
		}
		c, err := p.verifyAssertion(ctx, cc.ClientAssertion, cc.ClientID, endpoint)
		if err != nil {
			return store.Client{}, invalidClient()
		}
		return c, nil
	}
	c, err := p.clientOf(ctx, cc.ClientID)
	if err != nil {
		CheckSecret(nobody, cc.ClientSecret) // the same work as for a known client
		return store.Client{}, invalidClient()
	}
	if c.Public {
		if cc.ClientSecret != "" {
			return store.Client{}, invalidClient()
		}
		return c, nil
	}
	// client_secret_basic and client_secret_post carry the same secret:
	// either is accepted for a client registered with either (as
	// Keycloak does), since relying-party libraries differ in their
	// default (openid-client posts, most others use Basic). A client
	// registered for private_key_jwt has no secret to present.
	ok := CheckSecret(c, cc.ClientSecret)
	if !ok || (c.TokenEndpointAuthMethod != AuthSecretBasic && c.TokenEndpointAuthMethod != AuthSecretPost) {
		return store.Client{}, invalidClient()
	}
	return c, nil
}

// nobody is the client an unknown client id is checked against.
var nobody = store.Client{SecretHash: make([]byte, 32)}

// usedBasic reports whether the request authenticates with HTTP Basic.
func usedBasic(h http.Header) bool {
	a := h.Get("Authorization")
	return len(a) > 6 && strings.EqualFold(a[:6], "basic ")
}

// challengeBasic adds the WWW-Authenticate challenge RFC 6749 §5.2 asks
// for when a client that authenticated with Basic is refused.
func challengeBasic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if usedBasic(r.Header) {
			w = &challengeWriter{ResponseWriter: w, challenge: func(code int) string {
				if code == http.StatusUnauthorized {
					return `Basic realm="gatehouse"`
				}
				return ""
			}}
		}
		h.ServeHTTP(w, r)
	})
}

// challengeBearer adds RFC 6750 §3's challenge to the userinfo
// endpoint's refusals: invalid_token for a token that did not verify (or
// none at all: no error attribute then), insufficient_scope for one
// without openid.
func challengeBearer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hasToken := strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer ")
		w = &challengeWriter{ResponseWriter: w, challenge: func(code int) string {
			switch {
			case code == http.StatusForbidden:
				return `Bearer realm="gatehouse", error="insufficient_scope", scope="openid"`
			case code == http.StatusUnauthorized && hasToken:
				return `Bearer realm="gatehouse", error="invalid_token"`
			case code == http.StatusUnauthorized:
				return `Bearer realm="gatehouse"`
			}
			return ""
		}}
		h.ServeHTTP(w, r)
	})
}

type challengeWriter struct {
	http.ResponseWriter
	challenge func(status int) string
}

func (c *challengeWriter) WriteHeader(code int) {
	if ch := c.challenge(code); ch != "" {
		c.Header().Set("WWW-Authenticate", ch)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
