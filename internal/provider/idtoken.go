package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// idClaims are an ID token's claims (OpenID Connect Core §2, §3.1.3.6).
type idClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time"`
	Nonce    string   `json:"nonce,omitempty"`
	// ACR "1": a password entered for this login, not a remembered
	// session; AMR "pwd" (RFC 8176 §2).
	ACR string   `json:"acr"`
	AMR []string `json:"amr"`
	// AZP, the authorized party, is the client the token was issued to.
	AZP       string `json:"azp"`
	SessionID string `json:"sid"`
	ATHash    string `json:"at_hash,omitempty"`
	Username  string `json:"preferred_username,omitempty"`
}

// idToken signs the ID token of a session for its client, with at_hash
// for the access token issued with it (§3.1.3.6).
func (p *Provider) idToken(ctx context.Context, c store.Client, u store.User, s store.Session, nonce, accessToken string) (string, error) {
	key, err := p.d.IDKeys.Signing(ctx)
	if err != nil {
		return "", fmt.Errorf("provider: ID token key: %w", err)
	}
	now := p.d.Clock.Now()
	exp := now.Add(p.cfg.IDTokenTTL)
	claims := idClaims{Issuer: p.cfg.Issuer.String(), Subject: u.ID, Audience: []string{c.ID}, Expiry: exp.Unix(),
		IssuedAt: now.Unix(), AuthTime: s.AuthTime.Unix(), Nonce: nonce, ACR: "1", AMR: []string{"pwd"}, AZP: c.ID,
		SessionID: s.ID}
	if scopeHas(s.Scope, oidc.ScopeProfile) {
		claims.Username = u.Username
	}
	if accessToken != "" {
		if claims.ATHash, err = oidc.ClaimHash(accessToken, jose.SignatureAlgorithm(key.Alg)); err != nil {
			return "", fmt.Errorf("provider: at_hash: %w", err)
		}
	}
	return key.Sign(claims)
}

// idAlgorithms are the algorithms an ID token may be signed with.
var idAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// errHint: the id_token_hint is not an ID token of this provider.
var errHint = errors.New("provider: id_token_hint is not valid")

// verifyHint checks an id_token_hint: signed by an ID-token key of this
// provider, with its iss. An expired one is accepted (RP-Initiated Logout
// 1.0 §2: the hint may have expired; zitadel#5232): it identifies the
// session, and logging out needs no fresher proof.
func (p *Provider) verifyHint(ctx context.Context, raw string) (idClaims, error) {
	var c idClaims
	if len(raw) > 8<<10 {
		return c, errHint
	}
	jws, err := jose.ParseSignedCompact(raw, idAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return c, errHint
	}
	h := jws.Signatures[0].Protected
	key, err := p.d.IDKeys.Lookup(ctx, h.KeyID)
	if err != nil || key.Alg != h.Algorithm {
		return c, errHint
	}
	payload, err := jws.Verify(key.Public())
	if err != nil || json.Unmarshal(payload, &c) != nil || c.Issuer != p.cfg.Issuer.String() || c.SessionID == "" {
		return c, errHint
	}
	return c, nil
}

// EndSession is OpenID Connect RP-Initiated Logout 1.0. The session named
// by the id_token_hint's sid ends (and with it every token it issued);
// then the browser goes to post_logout_redirect_uri, with state, when it
// is registered for the hint's client (or client_id's), or else to the
// signed-out page. A post_logout_redirect_uri that is not registered is
// refused and never redirected to (§3).
func (s *server) EndSession(ctx context.Context, r *op.Request[oidc.EndSessionRequest]) (*op.Redirect, error) {
	p := s.p
	req := r.Data
	clientID := req.ClientID
	var hint idClaims
	if req.IdTokenHint != "" {
		var err error
		if hint, err = p.verifyHint(ctx, req.IdTokenHint); err != nil {
			return nil, oidc.ErrInvalidRequest().WithDescription("id_token_hint is not a valid ID token of this provider")
		}
		if clientID != "" && !contains(hint.Audience, clientID) {
			return nil, oidc.ErrInvalidRequest().WithDescription("client_id is not the audience of id_token_hint")
		}
		clientID = hint.AZP
	}
	target := PathSignedOut
	if req.PostLogoutRedirectURI != "" {
		if clientID == "" {
			return nil, oidc.ErrInvalidRequest().WithDescription("post_logout_redirect_uri needs id_token_hint or client_id")
		}
		c, err := p.clientOf(ctx, clientID)
		if err != nil || !MatchPostLogoutRedirect(c, req.PostLogoutRedirectURI) {
			return nil, oidc.ErrInvalidRequest().WithDescription("post_logout_redirect_uri is not registered for the client")
		}
		u, err := url.Parse(req.PostLogoutRedirectURI)
		if err != nil {
			return nil, oidc.ErrInvalidRequest().WithDescription("post_logout_redirect_uri is not a URI")
		}
		if req.State != "" {
			q := u.Query()
			q.Set("state", req.State)
			u.RawQuery = q.Encode()
		}
		target = u.String()
	}
	if hint.SessionID != "" {
		if sess, err := p.d.Sessions.Live(ctx, hint.SessionID); err == nil && sess.UserID == hint.Subject {
			if err := p.d.Sessions.Logout(ctx, sess, peerOf(ctx)); err != nil {
				return nil, err
			}
		}
	}
	if target == PathSignedOut {
		target = strings.TrimSuffix(p.cfg.Issuer.String(), "/") + PathSignedOut
	}
	return op.NewRedirect(target), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
