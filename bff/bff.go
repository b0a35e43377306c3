// Package bff is a backend-for-frontend (the "rp" role of
// draft-ietf-oauth-browser-based-apps, revision 27, §6.1): an OpenID
// Connect confidential client in front of a single-page app and its API.
// The browser is sent to the provider to sign in; the code comes back
// here and is exchanged, with the client secret and the PKCE verifier,
// for the tokens; the tokens stay on the server, sealed in the session
// store; the browser holds one __Host- session cookie and a CSRF cookie,
// and its API calls are proxied to allow-listed upstreams with the access
// token added, refreshed once per session across every BFF node.
//
// It works against any OpenID provider (PAR when the provider offers it,
// RFC 9207 iss checked, the ID token and nonce verified), not only
// Gatehouse's own. `gatehouse bff` runs it.
package bff

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Route forwards the requests under Prefix (a path that ends in "/") to
// Upstream, keeping the path.
type Route struct {
	Prefix   string
	Upstream *url.URL
}

// Config configures a BFF. Issuer, ClientID, ClientSecret, PublicURL,
// Key and Store are required.
type Config struct {
	// Issuer is the OpenID provider's issuer URL; its discovery document
	// is read at New.
	Issuer       string
	ClientID     string
	ClientSecret string
	// PublicURL is where browsers reach the BFF (the SPA's origin): the
	// redirect URI is PublicURL + Prefix + "/callback", and the only
	// origin trusted for unsafe requests.
	PublicURL *url.URL
	// Prefix is the BFF's own endpoints' path prefix (default "/bff").
	Prefix string
	// Scopes asked for; default openid profile offline_access.
	Scopes []string
	// Routes are the upstreams the SPA's API calls go to; nothing else is
	// forwarded.
	Routes []Route
	// PostLogoutRedirect is where the provider sends the browser after
	// logout (default PublicURL + "/").
	PostLogoutRedirect string
	// Key seals the tokens at rest and keys the CSRF tokens: 32 bytes,
	// the same on every BFF node.
	Key []byte
	// Store keeps the sessions; a PostgreSQL one lets several nodes
	// serve one session.
	Store Store
	// IdleTimeout ends a session unused this long (default 8 h);
	// Lifetime bounds it absolutely (default 30 days). A session also
	// ends when its refresh token is refused.
	IdleTimeout time.Duration
	Lifetime    time.Duration
	// UpstreamTimeout bounds an upstream's answer headers (default 30 s).
	UpstreamTimeout time.Duration
	// HTTPClient talks to the provider (default: 10 s timeout).
	HTTPClient *http.Client
	// Log receives operational messages, never a token. Default discard.
	Log *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// BFF is the backend-for-frontend. Handler serves it.
type BFF struct {
	cfg      Config
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	keys     oidc.KeySet
	meta     providerMetadata
	node     string // this process's lease holder name
	routes   []route
}

// providerMetadata is what the BFF reads of the provider's discovery
// document beyond go-oidc's endpoints.
type providerMetadata struct {
	Issuer        string `json:"issuer"`
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
	JWKS          string `json:"jwks_uri"`
	PAR           string `json:"pushed_authorization_request_endpoint"`
	Revocation    string `json:"revocation_endpoint"`
	EndSession    string `json:"end_session_endpoint"`
	ISSParameter  bool   `json:"authorization_response_iss_parameter_supported"`
}

// New reads the provider's discovery document and returns a BFF.
func New(ctx context.Context, cfg Config) (*BFF, error) {
	switch {
	case cfg.Issuer == "" || cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, errors.New("bff: Issuer, ClientID and ClientSecret are required")
	case cfg.PublicURL == nil || cfg.PublicURL.Scheme == "" || cfg.PublicURL.Host == "":
		return nil, errors.New("bff: PublicURL is required")
	case len(cfg.Key) != 32:
		return nil, errors.New("bff: Key must be 32 bytes")
	case cfg.Store == nil:
		return nil, errors.New("bff: Store is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/bff"
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}
	}
	if cfg.PostLogoutRedirect == "" {
		cfg.PostLogoutRedirect = origin(cfg.PublicURL) + "/"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 8 * time.Hour
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 30 * 24 * time.Hour
	}
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	routes, err := newRoutes(cfg.Routes, cfg.Prefix)
	if err != nil {
		return nil, err
	}
	octx := oidc.ClientContext(ctx, cfg.HTTPClient)
	p, err := oidc.NewProvider(octx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("bff: discovery: %w", err)
	}
	var meta providerMetadata
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("bff: discovery: %w", err)
	}
	keys := oidc.NewRemoteKeySet(octx, meta.JWKS)
	b := &BFF{cfg: cfg, meta: meta, keys: keys, routes: routes, node: nodeName()}
	b.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: origin(cfg.PublicURL) + cfg.Prefix + "/callback", Scopes: cfg.Scopes}
	b.verifier = oidc.NewVerifier(meta.Issuer, keys, &oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now})
	return b, nil
}

// Handler serves the BFF's endpoints under Prefix and the routes.
func (b *BFF) Handler() http.Handler {
	mux := http.NewServeMux()
	p := b.cfg.Prefix
	mux.HandleFunc("GET "+p+"/login", b.handleLogin)
	mux.HandleFunc("GET "+p+"/callback", b.handleCallback)
	mux.HandleFunc("GET "+p+"/user", b.handleUser)
	mux.HandleFunc("POST "+p+"/logout", b.handleLogout)
	mux.HandleFunc("GET "+p+"/end-session", b.handleEndSession)
	mux.HandleFunc("POST "+p+"/backchannel", b.handleBackchannel)
	for _, rt := range b.routes {
		mux.Handle(rt.prefix, b.proxy(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	return securityHeaders(mux)
}

// origin is a URL's scheme://host[:port].
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// hashSecret is the store's key for a session cookie's secret.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
