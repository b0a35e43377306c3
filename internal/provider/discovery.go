package provider

import (
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
)

// metadata is the provider's discovery document: OpenID Connect Discovery
// 1.0 §3, with the RFC 8414 members op's type lacks.
type metadata struct {
	oidc.DiscoveryConfiguration
	// RFC 9126 §5.
	PAREndpoint string `json:"pushed_authorization_request_endpoint"`
	RequirePAR  bool   `json:"require_pushed_authorization_requests"`
	// RFC 9207 §3.
	ISSParameter bool `json:"authorization_response_iss_parameter_supported"`
}

// handleDiscovery serves the discovery document at both well-known
// URIs: OpenID Connect's and OAuth's (RFC 8414 §3).
func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	base := strings.TrimSuffix(p.cfg.Issuer.String(), "/")
	authMethods := []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodPrivateKeyJWT}
	assertionAlgs := make([]string, len(assertionAlgorithms))
	for i, a := range assertionAlgorithms {
		assertionAlgs[i] = string(a)
	}
	m := metadata{
		DiscoveryConfiguration: oidc.DiscoveryConfiguration{
			Issuer:                                     p.cfg.Issuer.String(),
			AuthorizationEndpoint:                      base + PathAuthorize,
			TokenEndpoint:                              base + PathToken,
			IntrospectionEndpoint:                      base + PathIntrospect,
			UserinfoEndpoint:                           base + PathUserinfo,
			RevocationEndpoint:                         base + PathRevoke,
			EndSessionEndpoint:                         base + PathEndSession,
			JwksURI:                                    base + PathJWKS,
			ScopesSupported:                            []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess},
			ResponseTypesSupported:                     []string{string(oidc.ResponseTypeCode)},
			ResponseModesSupported:                     []string{string(oidc.ResponseModeQuery)},
			GrantTypesSupported:                        []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials},
			ACRValuesSupported:                         []string{"1"},
			SubjectTypesSupported:                      []string{"public"},
			IDTokenSigningAlgValuesSupported:           p.idAlgorithms(r),
			TokenEndpointAuthMethodsSupported:          append(authMethods, oidc.AuthMethodNone),
			TokenEndpointAuthSigningAlgValuesSupported: assertionAlgs,
			IntrospectionEndpointAuthSigningAlgValuesSupported: assertionAlgs,
			RevocationEndpointAuthSigningAlgValuesSupported:    assertionAlgs,
			RevocationEndpointAuthMethodsSupported:             append(authMethods, oidc.AuthMethodNone),
			IntrospectionEndpointAuthMethodsSupported:          authMethods,
			ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
				"sid", "at_hash", "preferred_username", "updated_at"},
			CodeChallengeMethodsSupported: []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
			RequestParameterSupported:     false,
			RequestURIParameterSupported:  true,
			// Back-Channel Logout 1.0 §2.1: every logout token carries
			// the sid (backchannel.go).
			BackChannelLogoutSupported:        true,
			BackChannelLogoutSessionSupported: true,
		},
		PAREndpoint:  base + PathPAR,
		ISSParameter: true,
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	edge.WriteJSON(w, http.StatusOK, m)
}

// idAlgorithms lists the algorithm the ID-token key signs with now.
func (p *Provider) idAlgorithms(r *http.Request) []string {
	k, err := p.d.IDKeys.Signing(r.Context())
	if err != nil {
		return []string{"RS256"}
	}
	return []string{k.Alg}
}
