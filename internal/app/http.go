package app

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/authapi"
	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/sealed"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// surfaces is the HTTP side of a serving App: one edge every request
// passes, one mux every surface is mounted on.
type surfaces struct {
	edge  *edge.Edge
	mux   *http.ServeMux
	guard *guard.Guard
	// revoked is the guard's revocation set, fed by the hub.
	revoked *guard.Revocations
	api     *authapi.Server
	// root serves the paths no other pattern matches: the surface
	// mounted at "/" (the demo app), or 404 problem+json.
	root atomic.Pointer[http.Handler]
}

func (s *surfaces) serveRoot(w http.ResponseWriter, r *http.Request) {
	if h := s.root.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	// ServeMux's own 404 is plain text.
	edge.WriteProblem(w, http.StatusNotFound, problem.CodeNotFound, "no such endpoint")
}

// ServeOptions are what a serving process decides beyond the
// configuration.
type ServeOptions struct {
	// FeedSecret, when set, is the revocation feed's secret instead of
	// revocation_feed_secret (serve --demo generates one for its run).
	FeedSecret string
}

// Serve builds the HTTP side: the process's guard (it follows the
// revocation hub, which Run runs; ctx bounds it), the edge, and the
// first-party API on the one mux. Further surfaces join with Mount;
// Handler serves them all. Serve is called once.
func (a *App) Serve(ctx context.Context, so ServeOptions) error {
	if a.web != nil {
		return errors.New("app: Serve called twice")
	}
	cfg := a.cfg
	g, revoked, err := a.newGuard(ctx, nil)
	if err != nil {
		return err
	}
	e, err := edge.New(edge.Config{
		PublicURL:      cfg.PublicURL,
		AllowedOrigins: cfg.AllowedOrigins,
		TrustedProxies: cfg.TrustedProxies,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		RequestTimeout: cfg.RequestTimeout,
		Unbounded:      authapi.IsFeedStream,
		NoStore:        append(authapi.PrivatePaths(), provider.PrivatePaths()...),
		CredentialFree: provider.CredentialFree(),
		NoCORS:         provider.BrowserOnly(),
		Log:            a.log,
	})
	if err != nil {
		return err
	}
	secret := cfg.RevocationFeedSecret
	if so.FeedSecret != "" {
		secret = so.FeedSecret
	}
	// One JWKS for both kinds of key: resource servers find the access
	// keys there, relying parties the ID-token keys, and each tells its
	// tokens by typ (at+jwt, JWT).
	api, err := authapi.New(authapi.Deps{Engine: a.Engine, Verifier: g, Readiness: a, Keys: token.KeySets{a.Keys, a.IDKeys}, Edge: e, Feed: a.Hub, Clients: a.Clients,
		Log: a.log, Clock: a.clock},
		authapi.Config{
			JWKSMaxAge:           cfg.JWKSMaxAge,
			RevocationFeedSecret: secret,
			RevocationHeartbeat:  cfg.RevocationHeartbeat,
			RefreshCookiePath:    authapi.RefreshCookiePath(cfg.InlineRefresh),
			LogoutClearSiteData:  cfg.LogoutClearSiteData,
		})
	if err != nil {
		return err
	}
	prov, err := a.newProvider(ctx, e)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	api.Register(mux)
	prov.Register(mux)
	a.web = &surfaces{edge: e, mux: mux, guard: g, revoked: revoked, api: api}
	mux.HandleFunc("/", a.web.serveRoot)
	return nil
}

// newProvider builds the OAuth 2.0 / OpenID Connect provider on the
// engine, the registry and the two keyrings. Its sealing key comes from a
// stored secret every node shares and, with a key-encryption key, is
// derived under it, as the CSRF key is: a copy of the database alone
// cannot forge a pending authorization request.
func (a *App) newProvider(ctx context.Context, e *edge.Edge) (*provider.Provider, error) {
	secret, err := a.DB.Secret(ctx, "provider", 32)
	if err != nil {
		return nil, err
	}
	if a.cfg.KEK != nil {
		secret = sealed.Key(a.cfg.KEK, "gatehouse provider secret v1\x00"+string(secret))
	}
	return provider.New(provider.Deps{Sessions: a.Engine, Clients: a.Clients, Store: a.DB, AccessKeys: a.Keys,
		IDKeys: a.IDKeys, Minter: a.Issuer, Edge: e, Clock: a.clock, Log: a.log, Secret: secret},
		provider.Config{Issuer: a.cfg.PublicURL})
}

// Mount serves h at pattern (a ServeMux pattern) behind the same edge as
// the API: the same headers, limits and cross-origin defence. "/" is the
// surface for every path no other pattern matches (the demo app); without
// one such paths are 404 problem+json.
func (a *App) Mount(pattern string, h http.Handler) {
	if pattern == "/" {
		a.web.root.Store(&h)
		return
	}
	a.web.mux.Handle(pattern, h)
}

// Handler is every mounted surface behind the edge.
func (a *App) Handler() http.Handler { return a.web.edge.Handler(a.web.mux) }

// Guard is the process's guard, the one the API verifies with: a surface
// mounted beside the API verifies with it too.
func (a *App) Guard() *guard.Guard { return a.web.guard }

// InlineGuard returns a guard like Guard that refreshes an expired access
// cookie in the middle of a request through the API (inline_refresh), for
// a surface on this site; ctx bounds its revocation feed.
func (a *App) InlineGuard(ctx context.Context) (*guard.Guard, error) {
	g, _, err := a.newGuard(ctx, a.web.api.InlineRefresher())
	return g, err
}

// Revocations is the revocation set the process's guard consults, which
// the hub feeds: its LastContact tells whether the feed is live.
func (a *App) Revocations() *guard.Revocations { return a.web.revoked }

// API is the first-party API.
func (a *App) API() *authapi.Server { return a.web.api }
