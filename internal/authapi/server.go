// Package authapi is Gatehouse's first-party API: login, refresh, logout,
// the session and its registry, password change, the admin API, the
// revocation feed and the JWKS. It holds handlers only: what every HTTP
// surface shares (middleware, decoding, problems, client address, cross-
// origin checks) is the edge's (internal/edge), and policy is the
// engine's (internal/session). Handlers decode, call the engine, and
// encode.
package authapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/internal/edge"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// Config is the first-party API's policy.
type Config struct {
	// JWKSMaxAge is how long verifiers may cache the JWKS.
	JWKSMaxAge time.Duration
	// RevocationFeedSecret is the bearer secret resource servers present
	// to read the feed (at least 32 bytes; the configuration checks);
	// empty, or Deps.Feed nil, turns the endpoint off (404).
	RevocationFeedSecret string
	// RevocationHeartbeat is how often an idle feed stream sends a ping,
	// so that guards and proxies can tell a quiet stream from a dead one.
	RevocationHeartbeat time.Duration
	// RefreshCookiePath is the refresh cookie's Path: "/auth" (default),
	// or "/" for in-line refresh by a guard on this site (inline_refresh;
	// the trade-off is in docs/tokens.md).
	RefreshCookiePath string
	// LogoutClearSiteData adds Clear-Site-Data: "cookies" to logout
	// answers (logout_clear_site_data). Off by default: the header drops
	// every cookie of the site, not only Gatehouse's, and behind the
	// reverse proxy on the app's origin that the docs recommend, the site
	// is the app's, so a logout would drop the app's own cookies too.
	// Gatehouse's cookies are expired by name either way.
	LogoutClearSiteData bool
}

// Verifier verifies an access token: *guard.Guard, the same code resource
// servers verify Gatehouse's tokens with, so that the server and its
// resource servers cannot disagree about which tokens are good. Declared
// here, where it is used, so that tests can stand in for it; the API
// calls only Verify, never the guard's middleware, because it keeps its
// own CSRF check (HMAC) and checks the session in the database as well.
type Verifier interface {
	// Verify returns the token's principal, or an error wrapping one of
	// the guard's sentinel errors (guard.ErrExpired, guard.ErrRevoked,
	// guard.ErrFeedDown, ...).
	Verify(ctx context.Context, raw string) (*guard.Principal, error)
}

// KeySet is the signing keys as GET /.well-known/jwks.json publishes
// them (*token.Keyring).
type KeySet interface {
	// JWKS returns the public keys verifiers may meet: the current, the
	// next and the retired ones whose tokens may not have expired.
	JWKS(ctx context.Context) (jose.JSONWebKeySet, error)
}

// Feed is the revocation feed GET /auth/revocations serves
// (*revocation.Hub).
type Feed interface {
	// Read returns the entries after seq, at most revocation.PageSize.
	Read(ctx context.Context, after int64) ([]revocation.Entry, error)
	// Head is the newest entry's seq.
	Head(ctx context.Context) (int64, error)
	// Subscribe announces each entry as it is committed.
	Subscribe() *revocation.Subscription
	// Done is closed when the feed stops (the server shuts down): open
	// streams end then.
	Done() <-chan struct{}
}

// Deps are the API's collaborators.
type Deps struct {
	Engine   *session.Engine
	Verifier Verifier
	Keys     KeySet
	// Edge is the HTTP edge the API is served behind: it resolves the
	// client's address, decodes bodies, and knows the trusted origins.
	Edge *edge.Edge
	// Feed, when set, is served at GET /auth/revocations.
	Feed Feed
	// Clients, when set, is managed under /admin/clients.
	Clients ClientRegistry
	// Readiness, when set, answers GET /readyz.
	Readiness Readiness
	Log       *slog.Logger
	Clock     clock.Clock
}

// Server serves the first-party API.
type Server struct {
	engine   *session.Engine
	verifier Verifier
	keys     KeySet
	feed     Feed
	clients  ClientRegistry
	ready    Readiness
	edge     *edge.Edge
	log      *slog.Logger
	clock    clock.Clock
	cfg      Config
	// firstParty is the built-in client's id: only its access tokens act
	// for the user here.
	firstParty string
	// feedSecret is the SHA-256 of RevocationFeedSecret: compared hashed,
	// so the comparison's time depends on neither value's length.
	feedSecret [sha256.Size]byte
	// unavailableLogged is the Unix second engineError last logged a
	// database outage in: one line a second, not one per request.
	unavailableLogged atomic.Int64
}

// New returns the API; Register mounts it.
func New(d Deps, cfg Config) (*Server, error) {
	if d.Engine == nil || d.Verifier == nil || d.Keys == nil || d.Edge == nil || d.Log == nil || d.Clock == nil {
		return nil, errors.New("authapi: missing dependency")
	}
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = 5 * time.Minute
	}
	if cfg.RevocationHeartbeat <= 0 {
		cfg.RevocationHeartbeat = 10 * time.Second
	}
	if cfg.RefreshCookiePath == "" {
		cfg.RefreshCookiePath = refreshPath
	}
	return &Server{engine: d.Engine, verifier: d.Verifier, keys: d.Keys, feed: d.Feed, clients: d.Clients, ready: d.Readiness, edge: d.Edge, log: d.Log,
		clock: d.Clock, cfg: cfg, firstParty: d.Engine.FirstParty().ClientID,
		feedSecret: sha256.Sum256([]byte(cfg.RevocationFeedSecret))}, nil
}

// PrivatePaths are the path prefixes whose answers describe accounts and
// sessions, which no cache may keep (the edge's Config.NoStore).
func PrivatePaths() []string { return []string{"/auth/", "/admin/"} }
