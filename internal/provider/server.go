package provider

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/sealed"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// The provider's paths. Discovery is at the issuer's well-known URIs
// (OpenID Connect Discovery 1.0 §4, RFC 8414 §3); the JWKS is the one the
// first-party API publishes, with the ID-token keys beside the access-token
// keys.
const (
	PathDiscovery     = "/.well-known/openid-configuration"
	PathASMetadata    = "/.well-known/oauth-authorization-server"
	PathAuthorize     = "/oauth2/authorize"
	PathPAR           = "/oauth2/par"
	PathLogin         = "/oauth2/login"
	PathConsent       = "/oauth2/consent"
	PathToken         = "/oauth2/token" // #nosec G101 -- a URL path, not a credential
	PathUserinfo      = "/oauth2/userinfo"
	PathIntrospect    = "/oauth2/introspect"
	PathRevoke        = "/oauth2/revoke"
	PathEndSession    = "/oauth2/logout"
	PathSignedOut     = "/oauth2/signed-out"
	PathJWKS          = "/.well-known/jwks.json"
	pathPrefix        = "/oauth2/"
	requestURIPrefix  = "urn:ietf:params:oauth:request_uri:"
	defaultCodeTTL    = 60 * time.Second
	defaultPARTTL     = 90 * time.Second
	defaultPendingTTL = 10 * time.Minute
	defaultIDTokenTTL = time.Hour
)

// Edge is what the provider needs of the HTTP edge (*edge.Edge): who is
// on the other end of a request.
type Edge interface {
	ClientIP(r *http.Request) string
}

// Deps are the provider's collaborators, all required.
type Deps struct {
	Sessions Sessions
	Clients  *Registry
	Store    Store
	// AccessKeys verify the access tokens presented to userinfo,
	// introspection and revocation; IDKeys sign ID tokens and verify an
	// id_token_hint.
	AccessKeys Keys
	IDKeys     Keys
	// Minter signs the client_credentials grant's access tokens.
	Minter Minter
	Edge   Edge
	Clock  clock.Clock
	Log    *slog.Logger
	// Secret keys the sealing of pending authorization requests (the
	// login and consent pages' state) and must be the same on every node.
	Secret []byte
}

// Config is the provider's policy.
type Config struct {
	// Issuer is the public URL: the iss of every token, of discovery and
	// of every authorization response (RFC 9207).
	Issuer *url.URL
	// CodeTTL bounds an authorization code's life (default and maximum
	// 60 s: RFC 6749 §4.1.2 recommends at most ten minutes; RFC 9700
	// §4.5 wants them short).
	CodeTTL time.Duration
	// PARTTL is a pushed request's life (RFC 9126 §2.2; default 90 s).
	PARTTL time.Duration
	// PendingTTL bounds the time from the authorization request to the
	// login and consent forms' submission (default 10 min).
	PendingTTL time.Duration
	// IDTokenTTL is an ID token's life (default 1 h).
	IDTokenTTL time.Duration
}

// Provider is the OAuth 2.0 authorization server and OpenID Provider.
type Provider struct {
	d       Deps
	cfg     Config
	issuer  string
	pending []byte // sealing key of pending authorization requests
	op      http.Handler
	pages   *pages
}

// New returns a Provider.
func New(d Deps, cfg Config) (*Provider, error) {
	if cfg.Issuer == nil {
		return nil, errors.New("provider: no issuer")
	}
	if len(d.Secret) < 32 {
		return nil, errors.New("provider: the secret is shorter than 32 bytes")
	}
	if cfg.CodeTTL <= 0 || cfg.CodeTTL > defaultCodeTTL {
		cfg.CodeTTL = defaultCodeTTL
	}
	if cfg.PARTTL <= 0 {
		cfg.PARTTL = defaultPARTTL
	}
	if cfg.PendingTTL <= 0 {
		cfg.PendingTTL = defaultPendingTTL
	}
	if cfg.IDTokenTTL <= 0 {
		cfg.IDTokenTTL = defaultIDTokenTTL
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	pg, err := newPages()
	if err != nil {
		return nil, err
	}
	p := &Provider{d: d, cfg: cfg, issuer: strings.TrimSuffix(cfg.Issuer.String(), "/"),
		pending: sealed.Key(d.Secret, "gatehouse authorization request v1"), pages: pg}
	p.op = op.RegisterServer(&server{p: p}, op.Endpoints{
		Token:         op.NewEndpoint(PathToken),
		Introspection: op.NewEndpoint(PathIntrospect),
		Userinfo:      op.NewEndpoint(PathUserinfo),
		Revocation:    op.NewEndpoint(PathRevoke),
		EndSession:    op.NewEndpoint(PathEndSession),
	}, op.WithServerCORSOptions(nil))
	return p, nil
}

// routes lists every path of the provider with its methods, in one
// place: Register serves exactly these, and docs/openapi.yaml documents
// exactly these (a test keeps the two in step through RoutePatterns).
var routes = []struct {
	path    string
	methods []string
}{
	{PathDiscovery, []string{http.MethodGet}},
	{PathASMetadata, []string{http.MethodGet}},
	{PathAuthorize, []string{http.MethodGet, http.MethodPost}},
	{PathPAR, []string{http.MethodPost}},
	{PathLogin, []string{http.MethodPost}},
	{PathConsent, []string{http.MethodPost}},
	{PathSignedOut, []string{http.MethodGet}},
	{PathToken, []string{http.MethodPost}},
	{PathUserinfo, []string{http.MethodGet, http.MethodPost}},
	{PathIntrospect, []string{http.MethodPost}},
	{PathRevoke, []string{http.MethodPost}},
	{PathEndSession, []string{http.MethodGet, http.MethodPost}},
}

// RoutePatterns lists the provider's "METHOD path" pairs.
func RoutePatterns() []string {
	var out []string
	for _, rt := range routes {
		for _, m := range rt.methods {
			out = append(out, m+" "+rt.path)
		}
	}
	return out
}

// Register mounts the provider's endpoints on mux. The endpoints op
// serves get the caller recorded for the engine and the body bounded,
// and a refused client or token its WWW-Authenticate challenge.
func (p *Provider) Register(mux *http.ServeMux) {
	withPeer := p.withPeer(p.op)
	handlers := map[string]http.Handler{
		PathDiscovery:  http.HandlerFunc(p.handleDiscovery),
		PathASMetadata: http.HandlerFunc(p.handleDiscovery),
		PathAuthorize:  http.HandlerFunc(p.handleAuthorize),
		PathLogin:      http.HandlerFunc(p.handleLogin),
		PathConsent:    http.HandlerFunc(p.handleConsent),
		PathSignedOut:  http.HandlerFunc(p.handleSignedOut),
		PathPAR:        bodyOnly(http.HandlerFunc(p.handlePAR)),
		PathToken:      bodyOnly(challengeBasic(withPeer)),
		PathIntrospect: bodyOnly(challengeBasic(withPeer)),
		PathRevoke:     bodyOnly(challengeBasic(withPeer)),
		PathUserinfo:   challengeBearer(withPeer),
		PathEndSession: withPeer,
	}
	for _, rt := range routes {
		for _, m := range rt.methods {
			mux.Handle(m+" "+rt.path, handlers[rt.path])
		}
		mux.HandleFunc(rt.path, methodNotAllowed)
	}
}

// bodyOnly refuses a request to a back-channel endpoint (token,
// introspection, revocation, PAR) that carries parameters in its URL:
// they belong in the form body (RFC 6749 §3.2, §2.3.1), and a secret, a
// code or a token in a URL ends up in proxies' and servers' logs. op
// would otherwise read the query too.
func bodyOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			writeOAuthError(w, http.StatusBadRequest, string(oidc.InvalidRequest), "parameters belong in the request body, not the URL")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// methodNotAllowed answers a method a path does not serve, as the OAuth
// endpoints answer everything: with RFC 6749 §5.2 error JSON.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeOAuthError(w, http.StatusMethodNotAllowed, string(oidc.InvalidRequest), r.Method+" is not allowed here")
}

// CredentialFree are the paths whose callers authenticate with what the
// request carries (client credentials, a Bearer token, a code verifier),
// never with a cookie: a script on any origin may call them (CORS without
// credentials), and the edge's cross-origin defence, which guards cookie
// sessions, does not apply. The authorization, login and consent pages
// are not among them.
func CredentialFree() []string {
	return []string{PathDiscovery, PathASMetadata, PathPAR, PathToken, PathUserinfo, PathIntrospect, PathRevoke, PathJWKS}
}

// BrowserOnly are the paths only a top-level navigation uses: the
// authorization endpoint and its pages answer no CORS request, even from
// an allowed origin (RFC 9700 §2.6).
func BrowserOnly() []string {
	return []string{PathAuthorize, PathLogin, PathConsent, PathSignedOut, PathEndSession}
}

// PrivatePaths are the prefixes whose answers carry tokens or personal
// data: Cache-Control: no-store (RFC 6749 §5.1).
func PrivatePaths() []string { return []string{pathPrefix} }

// writeOAuthError writes an RFC 6749 §5.2 error body, as op writes its
// own, for the endpoints Gatehouse adds (pushed requests).
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	edge.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// clientOf returns the registered client, or the built-in first-party
// client, or ErrUnknownClient.
func (p *Provider) clientOf(ctx context.Context, id string) (store.Client, error) {
	if id == "" || len(id) > 200 {
		return store.Client{}, ErrUnknownClient
	}
	if fp := p.d.Sessions.FirstParty(); id == fp.ClientID {
		return firstParty(fp), nil
	}
	return p.d.Clients.Get(ctx, id)
}

// firstParty is the built-in client whose sessions the first-party login
// API starts: public (its refresh token is the browser's cookie, or a
// native app's), refresh_token only, no redirect URI, so it can refresh
// and revoke at the token and revocation endpoints and never be sent to
// the authorization endpoint.
func firstParty(gr session.Grantee) store.Client {
	return store.Client{ID: gr.ClientID, Name: "Gatehouse", Public: true, FirstParty: true,
		TokenEndpointAuthMethod: AuthNone, GrantTypes: []string{GrantRefreshToken}, Scopes: strings.Fields(gr.Scope)}
}

// endpointURL is the absolute URL of one of the provider's paths.
func (p *Provider) endpointURL(path string) string {
	return strings.TrimSuffix(p.cfg.Issuer.String(), "/") + path
}

// peer describes the caller of a request, for sessions and the audit.
func (p *Provider) peer(r *http.Request) session.Client {
	return session.Client{IP: p.d.Edge.ClientIP(r), UserAgent: r.UserAgent()}
}

type peerKey struct{}

// withPeer records who is on the other end of the request in its context,
// for op's handlers, which see the context but not the request, and
// bounds the body op's form parsing reads.
func (p *Provider) withPeer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), peerKey{}, p.peer(r))))
	})
}

// peerOf is the caller withPeer recorded.
func peerOf(ctx context.Context) session.Client {
	cl, _ := ctx.Value(peerKey{}).(session.Client)
	return cl
}

// hasGrant reports whether the client is registered for the grant type.
func hasGrant(c store.Client, g string) bool { return slices.Contains(c.GrantTypes, g) }

// scopeHas reports whether the space-separated scope contains s.
func scopeHas(scope, s string) bool { return slices.Contains(strings.Fields(scope), s) }
