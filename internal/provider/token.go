package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/internal/sealed"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// server implements op.Server: op's web server parses the requests of the
// token, introspection, revocation, userinfo and end-session endpoints
// and authenticates the client (VerifyClient) before calling these.
type server struct {
	op.UnimplementedServer
	p *Provider
}

// VerifyClient authenticates the client of a token or revocation request.
func (s *server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	c, err := s.p.authenticate(ctx, r.Data, usedBasic(r.Header), s.p.endpointURL(r.URL.Path))
	if err != nil {
		return nil, err
	}
	return opClient{c}, nil
}

// codeGrant is what an authorization code carries, sealed under the code:
// the tokens its session started with.
type codeGrant struct {
	AccessToken  string    `json:"at"`
	AccessExp    time.Time `json:"at_exp"`
	RefreshToken string    `json:"rt"`
}

// codeBytes is an authorization code's entropy: 256 bits (RFC 6749
// §10.10 asks that guessing one be infeasible).
const codeBytes = 32

func codeLabel() string { return "gatehouse authorization code v1" }

// newCode returns a fresh code and its stored hash.
func newCode() (string, []byte) {
	b := make([]byte, codeBytes)
	rand.Read(b)
	code := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(code))
	return code, h[:]
}

func codeHash(code string) []byte {
	h := sha256.Sum256([]byte(code))
	return h[:]
}

// invalidGrant is RFC 6749 §5.2's invalid_grant.
func invalidGrant(desc string) error { return oidc.ErrInvalidGrant().WithDescription("%s", desc) }

// CodeExchange is the authorization_code grant (RFC 6749 §4.1.3, RFC
// 7636 §4.6). The code is redeemed first, in one atomic step on any
// node, and every check follows: a code presented with a wrong verifier,
// redirect URI or client is spent all the same, and its session ended,
// so a stolen code is worth one guess. A replay ends the session its
// tokens belong to (RFC 6749 §4.1.2, RFC 9700 §4.13).
func (s *server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	p := s.p
	client := r.Client.(opClient).c
	req := r.Data
	if len(req.Code) != base64.RawURLEncoding.EncodedLen(codeBytes) {
		return nil, invalidGrant("the authorization code is not valid")
	}
	now := p.d.Clock.Now()
	peer := peerOf(ctx)
	c, err := p.d.Store.RedeemCode(ctx, codeHash(req.Code), now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, invalidGrant("the authorization code is not valid")
	case errors.Is(err, store.ErrAlreadySpent):
		if c.ClientID == client.ID {
			p.end(ctx, c.SessionID, "authorization_code_replay", peer)
		}
		return nil, invalidGrant("the authorization code was already used")
	case err != nil:
		return nil, err
	}
	refuse := func(desc, reason string) (*op.Response, error) {
		p.end(ctx, c.SessionID, reason, peer)
		return nil, invalidGrant(desc)
	}
	switch {
	case c.ClientID != client.ID:
		return refuse("the authorization code was issued to another client", "authorization_code_misused")
	case !now.Before(c.ExpiresAt):
		return refuse("the authorization code has expired", "authorization_code_expired")
	case req.RedirectURI != c.RedirectURI:
		return refuse("redirect_uri is not the one of the authorization request", "authorization_code_misused")
	case req.CodeVerifier == "":
		return refuse("code_verifier is required (PKCE, RFC 7636)", "authorization_code_misused")
	case !verifierMatches(req.CodeVerifier, c.CodeChallenge):
		return refuse("code_verifier does not match the code_challenge", "authorization_code_misused")
	}
	var g codeGrant
	if err := sealed.Open(sealed.Key([]byte(req.Code), codeLabel()), c.Hash, c.Grant, &g); err != nil {
		return nil, invalidGrant("the authorization code is not valid")
	}
	sess, err := p.d.Sessions.Live(ctx, c.SessionID)
	if err != nil {
		return nil, invalidGrant("the session of the authorization code has ended")
	}
	resp := &oidc.AccessTokenResponse{
		AccessToken: g.AccessToken,
		TokenType:   oidc.BearerToken,
		ExpiresIn:   expiresIn(g.AccessExp, now),
		Scope:       strings.Fields(c.Scope),
	}
	if scopeHas(c.Scope, oidc.ScopeOfflineAccess) && hasGrant(client, GrantRefreshToken) {
		resp.RefreshToken = g.RefreshToken
	}
	if scopeHas(c.Scope, oidc.ScopeOpenID) {
		u, err := p.d.Sessions.UserByID(ctx, c.UserID)
		if err != nil {
			return nil, invalidGrant("the user of the authorization code is gone")
		}
		if resp.IDToken, err = p.idToken(ctx, client, u, sess, c.Nonce, g.AccessToken); err != nil {
			return nil, err
		}
	}
	return tokenResponse(resp), nil
}

// verifierMatches checks a PKCE code_verifier against its S256 challenge
// (RFC 7636 §4.6) in constant time.
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 || challenge == "" {
		return false
	}
	got := oidc.NewSHACodeChallenge(verifier)
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// end ends a session for a reason of the protocol's; failing that is
// logged, the request being refused either way.
func (p *Provider) end(ctx context.Context, sid, reason string, cl session.Client) {
	if err := p.d.Sessions.EndSession(ctx, sid, reason, cl); err != nil {
		p.d.Log.Error("ending a session failed", "session_id", sid, "reason", reason, "err", err)
	}
}

// expiresIn is RFC 6749 §5.1's expires_in: whole seconds left.
func expiresIn(exp, now time.Time) uint64 {
	if d := exp.Sub(now); d > 0 {
		return uint64(d / time.Second)
	}
	return 0
}

// tokenResponse is a token endpoint answer: never cached (RFC 6749 §5.1).
func tokenResponse(v any) *op.Response {
	resp := op.NewResponse(v)
	resp.Header.Set("Cache-Control", "no-store")
	resp.Header.Set("Pragma", "no-cache")
	return resp
}

// RefreshToken is the refresh_token grant (RFC 6749 §6) through the
// engine: the same rotation, grace window and reuse detection as the
// first-party API's. A refresh token of another client is refused by the
// engine before it is touched, so presenting it neither rotates it nor
// counts as reuse. A scope parameter must name the granted scope:
// narrowing it is not supported.
func (s *server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	p := s.p
	client := r.Client.(opClient).c
	if len(r.Data.Scopes) > 0 {
		// Only a request that names a scope pays for reading the session
		// first; the check must come before the rotation.
		sess, err := p.d.Sessions.SessionOfRefreshToken(ctx, r.Data.RefreshToken)
		if err != nil || sess.ClientID != client.ID {
			return nil, invalidGrant("the refresh token is not valid")
		}
		if !sameScopes(r.Data.Scopes, sess.Scope) {
			return nil, oidc.ErrInvalidScope().WithDescription("the scope of a refresh must be the one granted; narrowing it is not supported")
		}
	}
	g, err := p.d.Sessions.RefreshFor(ctx, client.ID, r.Data.RefreshToken, peerOf(ctx))
	if err != nil {
		return nil, refreshError(err)
	}
	now := p.d.Clock.Now()
	resp := &oidc.AccessTokenResponse{
		AccessToken:  g.AccessToken,
		TokenType:    oidc.BearerToken,
		RefreshToken: g.RefreshToken,
		ExpiresIn:    expiresIn(g.AccessExpiresAt, now),
		Scope:        strings.Fields(g.Session.Scope),
	}
	if scopeHas(g.Session.Scope, oidc.ScopeOpenID) {
		// OpenID Connect Core §12.2: an ID token for the same session and
		// user, without a nonce.
		if resp.IDToken, err = p.idToken(ctx, client, g.User, g.Session, "", g.AccessToken); err != nil {
			return nil, err
		}
	}
	return tokenResponse(resp), nil
}

// sameScopes reports whether the requested scopes are exactly the
// granted ones, in any order.
func sameScopes(requested []string, granted string) bool {
	g := strings.Fields(granted)
	if len(dedupe(requested)) != len(g) {
		return false
	}
	for _, sc := range requested {
		if !slices.Contains(g, sc) {
			return false
		}
	}
	return true
}

// refreshError maps the engine's refusals to invalid_grant; anything
// else is the server's fault.
func refreshError(err error) error {
	switch {
	case errors.Is(err, session.ErrInvalidRefreshToken):
		return invalidGrant("the refresh token is not valid")
	case errors.Is(err, session.ErrRefreshReuse):
		return invalidGrant("the refresh token was already used; its session has been ended")
	case errors.Is(err, session.ErrSessionEnded):
		return invalidGrant("the session of the refresh token has ended")
	}
	return err
}

// ClientCredentials is the client_credentials grant (RFC 6749 §4.4): an
// access token for the client itself. It belongs to no user's session;
// its sid names the client ("client:" and the id), and introspection
// reports it inactive once the client is deleted.
func (s *server) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	p := s.p
	client := r.Client.(opClient).c
	if client.Public {
		return nil, invalidClient()
	}
	var scopes []string
	for _, sc := range r.Data.Scope {
		if sc == oidc.ScopeOpenID || sc == oidc.ScopeOfflineAccess || !slices.Contains(client.Scopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %q is not allowed for this client's own tokens", sc)
		}
		scopes = append(scopes, sc)
	}
	aud, err := audienceFor(client, r.Form["resource"])
	if err != nil {
		return nil, err
	}
	now := p.d.Clock.Now()
	at, _, exp, err := p.d.Minter.Issue(ctx, token.Subject{
		UserID:    client.ID,
		SessionID: clientSID(client.ID),
		ClientID:  client.ID,
		Audience:  aud,
		AuthTime:  now,
		Scope:     strings.Join(scopes, " "),
		TTL:       client.AccessTokenTTL,
	})
	if err != nil {
		return nil, err
	}
	return tokenResponse(&oidc.AccessTokenResponse{AccessToken: at, TokenType: oidc.BearerToken,
		ExpiresIn: expiresIn(exp, now), Scope: scopes}), nil
}

// clientSIDPrefix marks the sid of a client_credentials token.
const clientSIDPrefix = "client:"

func clientSID(id string) string { return clientSIDPrefix + id }

// audienceFor picks the audience (RFC 8707 resource indicators) of a
// client's access tokens: the resources asked for, each registered for
// the client, or without any, every registered one, or with none
// registered, the issuer's default audience.
func audienceFor(c store.Client, resources []string) ([]string, error) {
	for _, res := range resources {
		if !slices.Contains(c.Audiences, res) {
			return nil, oidc.ErrInvalidTarget().WithDescription("resource %q is not registered for this client", res)
		}
	}
	if len(resources) > 0 {
		return dedupe(resources), nil
	}
	return c.Audiences, nil
}

// Introspect is RFC 7662 token introspection, for a confidential client
// about a token issued to it or for one of its audiences (a resource
// server registered as a client); for any other token, and for a token
// that is not valid now, the answer is {"active": false} (§2.2). A token
// of a revoked session is inactive at once: liveness is read from the
// store, not from the revocation feed.
func (s *server) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	p := s.p
	caller, err := p.authenticate(ctx, r.Data.ClientCredentials, usedBasic(r.Header), p.endpointURL(r.URL.Path))
	if err != nil {
		return nil, err
	}
	if caller.Public {
		return nil, invalidClient()
	}
	resp := p.introspect(ctx, caller, r.Data.Token)
	return tokenResponse(resp), nil
}

func (p *Provider) introspect(ctx context.Context, caller store.Client, tok string) *oidc.IntrospectionResponse {
	inactive := &oidc.IntrospectionResponse{}
	if strings.HasPrefix(tok, session.RefreshTokenPrefix) {
		sess, err := p.d.Sessions.CurrentRefreshToken(ctx, tok)
		if err != nil || sess.ClientID != caller.ID {
			return inactive
		}
		u, err := p.d.Sessions.UserByID(ctx, sess.UserID)
		if err != nil {
			return inactive
		}
		return &oidc.IntrospectionResponse{Active: true, Scope: strings.Fields(sess.Scope), ClientID: sess.ClientID,
			TokenType: "refresh_token", Subject: sess.UserID, Username: u.Username, Issuer: p.cfg.Issuer.String(),
			IssuedAt: oidc.FromTime(sess.CreatedAt), Expiration: oidc.FromTime(sess.ExpiresAt),
			Claims: map[string]any{"sid": sess.ID}}
	}
	c, err := p.verifyAccess(ctx, tok)
	if err != nil {
		return inactive
	}
	if c.ClientID != caller.ID && !overlaps(c.Audience, caller.Audiences) {
		return inactive
	}
	resp := &oidc.IntrospectionResponse{Active: true, Scope: strings.Fields(c.Scope), ClientID: c.ClientID,
		TokenType: oidc.BearerToken, Subject: c.Subject, Username: c.Username, Audience: oidc.Audience(c.Audience),
		Issuer: c.Issuer, JWTID: c.ID, Claims: map[string]any{"sid": c.SessionID}}
	if c.Expiry != nil {
		resp.Expiration = oidc.FromTime(c.Expiry.Time())
	}
	if c.IssuedAt != nil {
		resp.IssuedAt = oidc.FromTime(c.IssuedAt.Time())
	}
	if c.NotBefore != nil {
		resp.NotBefore = oidc.FromTime(c.NotBefore.Time())
	}
	return resp
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// accessAlgorithms are the algorithms Gatehouse signs access tokens with.
var accessAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}

// errInactive: the token is not a valid access token of this issuer now.
var errInactive = errors.New("provider: token inactive")

// verifyAccess checks an access token as its issuer: the signature by an
// access-token key, typ at+jwt (RFC 9068 §4), iss, nbf and exp with no
// leeway, and the session (or, for a client's own token, the client)
// still there. Any audience: the provider answers for every resource.
func (p *Provider) verifyAccess(ctx context.Context, raw string) (token.Claims, error) {
	var c token.Claims
	if len(raw) > 8<<10 {
		return c, errInactive
	}
	jws, err := jose.ParseSignedCompact(raw, accessAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return c, errInactive
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, token.TypeAccessToken) &&
		!strings.EqualFold(typ, "application/"+token.TypeAccessToken) {
		return c, errInactive
	}
	key, err := p.d.AccessKeys.Lookup(ctx, h.KeyID)
	if err != nil || key.Alg != h.Algorithm {
		return c, errInactive
	}
	payload, err := jws.Verify(key.Public())
	if err != nil {
		return c, errInactive
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, errInactive
	}
	now := p.d.Clock.Now()
	switch {
	case c.Issuer != p.cfg.Issuer.String(), c.Expiry == nil, !now.Before(c.Expiry.Time()),
		c.NotBefore != nil && now.Before(c.NotBefore.Time()), c.SessionID == "", c.Subject == "":
		return c, errInactive
	}
	if id, ok := strings.CutPrefix(c.SessionID, clientSIDPrefix); ok {
		if _, err := p.clientOf(ctx, id); err != nil || id != c.ClientID {
			return c, errInactive
		}
		return c, nil
	}
	if _, err := p.d.Sessions.Live(ctx, c.SessionID); err != nil {
		return c, errInactive
	}
	return c, nil
}

// Revocation is RFC 7009 token revocation. Revoking a refresh token, or an
// access token, ends the session it belongs to, and with it every token
// of that session (§2.1 allows this; one session, one fate). A token of
// another client, or no valid token, is answered 200 all the same
// (§2.2), so the endpoint tells nothing about tokens.
func (s *server) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	p := s.p
	client := r.Client.(opClient).c
	peer := peerOf(ctx)
	tok := r.Data.Token
	if strings.HasPrefix(tok, session.RefreshTokenPrefix) {
		if sess, err := p.d.Sessions.SessionOfRefreshToken(ctx, tok); err == nil && sess.ClientID == client.ID {
			p.end(ctx, sess.ID, "token_revoked", peer)
		}
	} else if c, err := p.verifyAccess(ctx, tok); err == nil && c.ClientID == client.ID &&
		!strings.HasPrefix(c.SessionID, clientSIDPrefix) {
		p.end(ctx, c.SessionID, "token_revoked", peer)
	}
	return tokenResponse(struct{}{}), nil
}

// UserInfo is OpenID Connect Core §5.3: the claims of the access token's
// user, for a token with the openid scope whose session is live.
func (s *server) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	p := s.p
	c, err := p.verifyAccess(ctx, r.Data.AccessToken)
	if err != nil || strings.HasPrefix(c.SessionID, clientSIDPrefix) {
		return nil, bearerError(false, "the access token is not valid")
	}
	if !scopeHas(c.Scope, oidc.ScopeOpenID) {
		return nil, bearerError(true, "the access token lacks the openid scope")
	}
	u, err := p.d.Sessions.UserByID(ctx, c.Subject)
	if err != nil {
		return nil, bearerError(false, "the access token is not valid")
	}
	info := map[string]any{"sub": u.ID}
	if scopeHas(c.Scope, oidc.ScopeProfile) {
		info["preferred_username"] = u.Username
		info["updated_at"] = u.UpdatedAt.Unix()
	}
	return tokenResponse(info), nil
}

// bearerError is an RFC 6750 §3.1 error of a protected resource: 401
// invalid_token for a bad token, 403 insufficient_scope for one without
// the scope; bearerChallenge adds the WWW-Authenticate header.
func bearerError(insufficientScope bool, desc string) error {
	if insufficientScope {
		return op.NewStatusError(&oidc.Error{ErrorType: "insufficient_scope", Description: desc}, http.StatusForbidden)
	}
	return op.NewStatusError(&oidc.Error{ErrorType: "invalid_token", Description: desc}, http.StatusUnauthorized)
}
