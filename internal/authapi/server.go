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
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/edge"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// Config is the HTTP layer's policy.
type Config struct {
	// PublicURL is where browsers reach Gatehouse; its origin is always
	// allowed to log in.
	PublicURL *url.URL
	// AllowedOrigins are further origins (scheme://host[:port]) allowed to
	// log in and to make credentialed cross-origin calls.
	AllowedOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes bounds every request body.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the request's header block (names and values);
	// larger ones get 431 problem+json. The listener has a larger hard
	// limit of its own.
	MaxHeaderBytes int
	// RequestTimeout bounds each request's work.
	RequestTimeout time.Duration
	// JWKSMaxAge is how long verifiers may cache the JWKS.
	JWKSMaxAge time.Duration
	// Fallback, when set, serves every path the route table does not
	// (the demo app), behind the same middleware as the API, so it gets
	// the same headers, limits and cross-origin defence. Nil answers 404.
	Fallback http.Handler

	// Revocations is the revocation feed GET /auth/revocations serves;
	// with it nil or RevocationFeedSecret empty the endpoint answers 404.
	Revocations *revocation.Hub
	// RevocationFeedSecret is the bearer secret resource servers present
	// to read the feed (at least 32 bytes; the configuration checks).
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
	// single-host reverse proxy the docs recommend the site is the app's,
	// so a logout would sign the user out of the app's own cookies too.
	// Gatehouse's cookies are expired by name either way.
	LogoutClearSiteData bool
}

// Verifier verifies an access token: *guard.Guard, the same code resource
// servers verify Gatehouse's tokens with, so that the server and its
// resource servers cannot disagree about which tokens are good. Declared
// here, where it is used, so that tests can stand in for it; the server
// calls only Verify, never the guard's middleware, because it keeps its
// own CSRF check (HMAC) and checks the session in the database as well.
type Verifier interface {
	// Verify returns the token's principal, or an error wrapping one of
	// the guard's sentinel errors (guard.ErrExpired, guard.ErrRevoked,
	// guard.ErrFeedDown, ...).
	Verify(ctx context.Context, raw string) (*guard.Principal, error)
}

// Server serves the HTTP API.
type Server struct {
	engine   *session.Engine
	verifier Verifier
	keys     *token.Keyring
	log      *slog.Logger
	clock    clock.Clock
	cfg      Config
	edge     *edge.Edge
	// feedSecret is the SHA-256 of RevocationFeedSecret: compared hashed,
	// so the comparison's time depends on neither value's length.
	feedSecret [sha256.Size]byte
	handler    http.Handler
	// unavailableLogged is the Unix second engineError last logged a
	// database outage in: one line a second, not one per request.
	unavailableLogged atomic.Int64
}

// New returns the whole HTTP API as one handler.
func New(engine *session.Engine, verifier Verifier, keys *token.Keyring, log *slog.Logger, clk clock.Clock, cfg Config) (http.Handler, error) {
	s, err := NewServer(engine, verifier, keys, log, clk, cfg)
	if err != nil {
		return nil, err
	}
	return s.Handler(), nil
}

// NewServer returns the Server, for callers that need more of it than
// its handler (InlineRefresher).
func NewServer(engine *session.Engine, verifier Verifier, keys *token.Keyring, log *slog.Logger, clk clock.Clock, cfg Config) (*Server, error) {
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = 5 * time.Minute
	}
	if cfg.RevocationHeartbeat <= 0 {
		cfg.RevocationHeartbeat = 10 * time.Second
	}
	if cfg.RefreshCookiePath == "" {
		cfg.RefreshCookiePath = refreshPath
	}
	e, err := edge.New(edge.Config{
		PublicURL:      cfg.PublicURL,
		AllowedOrigins: cfg.AllowedOrigins,
		TrustedProxies: cfg.TrustedProxies,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		RequestTimeout: cfg.RequestTimeout,
		Unbounded:      isFeedStream,
		NoStore:        []string{"/auth/", "/admin/"},
		Log:            log,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{engine: engine, verifier: verifier, keys: keys, log: log, clock: clk, cfg: cfg, edge: e,
		feedSecret: sha256.Sum256([]byte(cfg.RevocationFeedSecret))}
	s.handler = e.Handler(s.routes())
	return s, nil
}

// Handler returns the whole HTTP API as one handler.
func (s *Server) Handler() http.Handler { return s.handler }
