// Package edge is the HTTP edge every Gatehouse surface shares: the
// middleware chain a request passes before any handler (panic recovery, the
// access log, security headers, TRACE refused, header-size bounds, the
// client's address and a deadline, CORS for allowed origins, cross-origin
// protection for unsafe methods), strict decoding of bounded bodies, the
// problem+json writer and its stable codes. The first-party API, and every
// surface mounted beside it, sits behind one Edge, so they cannot differ in
// what they refuse or how they answer.
package edge

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// Config is the edge's policy.
type Config struct {
	// PublicURL is where browsers reach Gatehouse; its origin is always
	// trusted.
	PublicURL *url.URL
	// AllowedOrigins are further origins (scheme://host[:port]) trusted to
	// make credentialed cross-origin calls (and to log in).
	AllowedOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes bounds every request body Decode reads.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the request's header block (names and values);
	// larger ones get 431 problem+json. The listener has a larger hard
	// limit of its own.
	MaxHeaderBytes int
	// RequestTimeout bounds each request's work.
	RequestTimeout time.Duration
	// Unbounded, when set, names the requests exempt from RequestTimeout:
	// streams meant to stay open (the revocation feed), which end on
	// disconnect or shutdown instead.
	Unbounded func(*http.Request) bool
	// NoStore lists path prefixes whose answers describe accounts and
	// sessions: Cache-Control: no-store, so that no cache keeps them.
	NoStore []string
	// CredentialFree lists exact paths whose callers authenticate with
	// what the request itself carries (client credentials, a Bearer
	// token, a PKCE verifier), never with a cookie: the OAuth token,
	// introspection, revocation and userinfo endpoints, discovery and the
	// JWKS. A script on any origin may call them (CORS with
	// "Access-Control-Allow-Origin: *" and no credentials, as a browser
	// app that is a public client needs), and the cross-origin defence,
	// which protects cookie sessions, does not apply to them.
	CredentialFree []string
	// NoCORS lists exact paths that answer no CORS request at all, even
	// from an allowed origin: the OAuth authorization endpoint and its
	// pages, which only a top-level navigation may use (RFC 9700 §2.6).
	NoCORS []string
	// Log receives the access log and recovered panics.
	Log *slog.Logger
}

// Edge applies one Config to every request.
type Edge struct {
	cfg     Config
	origins map[string]bool
	cop     *http.CrossOriginProtection
	free    map[string]bool // CredentialFree
	noCORS  map[string]bool // NoCORS
}

// New returns an Edge; zero limits get Gatehouse's defaults (a 64 KiB
// body, a 16 KiB header block, 10 s of work).
func New(cfg Config) (*Edge, error) {
	if cfg.PublicURL == nil {
		return nil, errors.New("edge: no public URL")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 16 << 10
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	e := &Edge{cfg: cfg, origins: map[string]bool{}, cop: http.NewCrossOriginProtection(), free: map[string]bool{}, noCORS: map[string]bool{}}
	for _, p := range cfg.NoCORS {
		e.noCORS[p] = true
	}
	for _, p := range cfg.CredentialFree {
		e.cop.AddInsecureBypassPattern(p)
		e.free[p] = true
	}
	for _, o := range append([]string{Origin(cfg.PublicURL)}, cfg.AllowedOrigins...) {
		if err := e.cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
		e.origins[o] = true
	}
	e.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, http.StatusForbidden, problem.CodeCrossOrigin, "cross-origin request refused")
	}))
	return e, nil
}

// Handler wraps h with the chain, outermost first: panic recovery, the
// access log, security headers, refusal of TRACE, header-size bounds,
// client identification and a deadline, CORS for allowed origins, and
// cross-origin (CSRF) protection for unsafe methods.
func (e *Edge) Handler(h http.Handler) http.Handler {
	h = e.cop.Handler(h)
	h = e.cors(h)
	h = e.clientInfo(h)
	h = e.limitHeaders(h)
	h = refuseTrace(h)
	h = e.securityHeaders(h)
	h = e.accessLog(h)
	return e.recoverer(h)
}

// Trusted reports whether o (scheme://host[:port]) is the public URL's
// origin or an allowed one.
func (e *Edge) Trusted(o string) bool { return e.origins[o] }

// MaxBodyBytes is the body bound Decode applies.
func (e *Edge) MaxBodyBytes() int64 { return e.cfg.MaxBodyBytes }

// Origin is the origin (RFC 6454) of an absolute URL: scheme://host[:port].
func Origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

func (e *Edge) noStore(path string) bool {
	for _, p := range e.cfg.NoStore {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
