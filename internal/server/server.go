// Package server is the HTTP layer of the Gatehouse session server: the
// first-party login API, JWKS, and the middleware every response passes
// through. Handlers decode, call the session engine, and encode; policy
// lives in the engine.
package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
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
}

// Server serves the HTTP API.
type Server struct {
	engine   *session.Engine
	verifier *token.Verifier
	keys     *token.Keyring
	log      *slog.Logger
	clock    clock.Clock
	cfg      Config
	origins  map[string]bool
	cop      *http.CrossOriginProtection
}

// New returns the whole HTTP API as one handler.
func New(engine *session.Engine, verifier *token.Verifier, keys *token.Keyring, log *slog.Logger, clk clock.Clock, cfg Config) (http.Handler, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 16 << 10
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = 5 * time.Minute
	}
	s := &Server{engine: engine, verifier: verifier, keys: keys, log: log, clock: clk, cfg: cfg,
		origins: map[string]bool{}, cop: http.NewCrossOriginProtection()}
	for _, o := range append([]string{origin(cfg.PublicURL)}, cfg.AllowedOrigins...) {
		if err := s.cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
		s.origins[o] = true
	}
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusForbidden, CodeCrossOrigin, "cross-origin request refused")
	}))
	return s.middleware(s.routes()), nil
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }
