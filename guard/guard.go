package guard

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
)

// Supported signing algorithms (RFC 7518 §3.4, RFC 8037 §3.1, RFC 7518
// §3.3). HMAC is deliberately absent: a verifier that accepts HMAC next to
// public-key algorithms can be made to use a public key as an HMAC secret
// (RFC 8725 §3.1–3.2).
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
)

// Defaults and bounds of a Config.
const (
	// maxTokenLen bounds a token before any decoding: an access token is
	// well under 2 KiB, and a bound stops a huge token from costing decode
	// time (go-jose CVE-2024-28180).
	maxTokenLen = 8 << 10

	defaultLeeway       = 30 * time.Second
	maxLeeway           = 5 * time.Minute
	defaultCacheEntries = 10_000

	// Gatehouse's own names: the one definition is the credential
	// reader's.
	defaultAccessCookie  = credential.CookieAccess
	defaultRefreshCookie = credential.CookieRefresh
	defaultCSRFCookie    = credential.CookieCSRF
	defaultCSRFHeader    = credential.HeaderCSRF
)

// Errors returned by Verify, wrapped with detail; branch with errors.Is.
// Their messages never contain the token or any of its (untrusted) values.
var (
	// ErrMalformed: not a compact JWS the guard could accept (size,
	// segments, encoding, header).
	ErrMalformed = errors.New("guard: malformed token")
	// ErrSignature: the signature does not verify, or the key is unknown,
	// or the algorithm is not allowed or does not match the key.
	ErrSignature = errors.New("guard: invalid signature")
	// ErrExpired: exp has passed, beyond the leeway.
	ErrExpired = errors.New("guard: token expired")
	// ErrNotYetValid: nbf or iat lies in the future, beyond the leeway.
	ErrNotYetValid = errors.New("guard: token not yet valid")
	// ErrClaims: typ, iss, aud or a required claim does not hold.
	ErrClaims = errors.New("guard: invalid claims")
	// ErrRevoked: the token's session has been revoked.
	ErrRevoked = errors.New("guard: session revoked")
	// ErrFeedDown: the revocation feed has not reached the server for
	// longer than FeedMaxLag and the guard fails closed.
	ErrFeedDown = errors.New("guard: revocation feed unavailable")
)

// Config configures a Guard. Issuer, Audience and Keys are required; every
// other field has a safe default.
type Config struct {
	// Issuer is the exact iss every token must carry (RFC 9068 §4, RFC
	// 8725 §3.8).
	Issuer string
	// Audience must be one of the token's aud values (RFC 9068 §4, RFC
	// 8725 §3.9): a token minted for another resource server is refused.
	Audience string
	// Algorithms is the allow-list of JWS algorithms (RFC 8725 §3.1);
	// default ES256, EdDSA, RS256. "none" and every HMAC algorithm are
	// refused by New.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat (RFC 7519
	// §4.1.4–4.1.5); default 30s, at most 5m. Zero means the default.
	Leeway time.Duration
	// Keys finds verification keys by kid: StaticKeys, RemoteJWKS or your
	// own. Keys never come from the token itself (RFC 8725 §3.10).
	Keys KeySource
	// CacheEntries bounds the verified-token cache (default 10,000); a
	// negative value turns the cache off. Memory: about 1–1.5 KB per
	// entry for Gatehouse's tokens, so ~15 MB at the default (docs/guard.md).
	CacheEntries int
	// Revocations is the set of revoked sessions the guard refuses.
	//
	// NIL MEANS NO REVOCATION CHECKS: a token stays valid until its exp
	// (five minutes for Gatehouse) even after logout, "sign out that
	// device" or a detected refresh-token theft. Leave it nil only where
	// that is acceptable.
	Revocations *Revocations
	// FeedMaxLag is how old Revocations.LastContact may be before the
	// guard stops trusting the set (default 30s). Past it every request is
	// refused with 503 revocation_feed_unavailable, unless FailOpen.
	FeedMaxLag time.Duration
	// FailOpen lets requests through while the feed is down (logging and
	// counting them) instead of refusing them. Default false: fail closed,
	// because a silent feed cannot tell "nobody logged out" from "we no
	// longer hear about logouts".
	FailOpen bool
	// Cookie and header names, by default Gatehouse's.
	AccessCookie  string // default "__Host-gh_at"
	RefreshCookie string // default "__Secure-gh_rt"
	CSRFCookie    string // default "XSRF-TOKEN"
	CSRFHeader    string // default "X-XSRF-TOKEN"
	// AllowedOrigins are origins ("https://app.example.com") trusted for
	// cookie-borne unsafe requests in addition to same-origin ones.
	AllowedOrigins []string
	// Refresher, when set, turns on in-line refresh of expired cookie-borne
	// access tokens (see docs/guard.md for the trade-off). Nil: off.
	Refresher Refresher
	// Metrics receives the guard's counts (guardprom exposes them to
	// Prometheus). Nil: nothing is counted.
	Metrics Metrics
	// Log receives operational messages (feed down, key set refresh); it
	// never receives tokens. Default: discard.
	Log *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Guard verifies access tokens for a resource server. It is safe for
// concurrent use. Build it with New.
type Guard struct {
	cfg     Config
	algs    [3]bool // indexed by algIndex: allowed or not
	b64     *base64.Encoding
	cache   *tokenCache // nil when off
	cop     *http.CrossOriginProtection
	revoked *revset.Set  // Config.Revocations' set; nil without
	started int64        // unix nanoseconds of New, for a feed that never reached the server
	feedLog atomic.Int64 // unix nanoseconds of the last feed-down log line
}

// New validates cfg, fills in the defaults and returns a Guard.
func New(cfg Config) (*Guard, error) {
	if strings.TrimSpace(cfg.Issuer) == "" {
		return nil, errors.New("guard: Config.Issuer is required")
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		return nil, errors.New("guard: Config.Audience is required")
	}
	if cfg.Keys == nil {
		return nil, errors.New("guard: Config.Keys is required (StaticKeys or RemoteJWKS)")
	}
	g := &Guard{b64: base64.RawURLEncoding.Strict(), cop: http.NewCrossOriginProtection()}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{ES256, EdDSA, RS256}
	}
	for _, a := range cfg.Algorithms {
		i := algIndex(a)
		switch {
		case i >= 0:
			g.algs[i] = true
		case strings.EqualFold(a, "none"):
			return nil, errors.New(`guard: algorithm "none" is never allowed (RFC 8725 §3.1)`)
		case len(a) >= 2 && strings.EqualFold(a[:2], "HS"):
			return nil, fmt.Errorf("guard: HMAC algorithm %q is not allowed: a shared secret lets every verifier mint tokens (RFC 8725 §3.2)", a)
		default:
			return nil, fmt.Errorf("guard: unsupported algorithm %q (want ES256, EdDSA or RS256)", a)
		}
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = defaultLeeway
	case cfg.Leeway < 0:
		return nil, fmt.Errorf("guard: Config.Leeway %v is negative", cfg.Leeway)
	case cfg.Leeway > maxLeeway:
		return nil, fmt.Errorf("guard: Config.Leeway %v is above the maximum %v", cfg.Leeway, maxLeeway)
	}
	switch {
	case cfg.FeedMaxLag == 0:
		cfg.FeedMaxLag = revset.DefaultMaxLag
	case cfg.FeedMaxLag < 0:
		return nil, fmt.Errorf("guard: Config.FeedMaxLag %v is negative", cfg.FeedMaxLag)
	}
	if cfg.CacheEntries == 0 {
		cfg.CacheEntries = defaultCacheEntries
	}
	for _, n := range []struct {
		field *string
		def   string
		name  string
	}{
		{&cfg.AccessCookie, defaultAccessCookie, "AccessCookie"},
		{&cfg.RefreshCookie, defaultRefreshCookie, "RefreshCookie"},
		{&cfg.CSRFCookie, defaultCSRFCookie, "CSRFCookie"},
		{&cfg.CSRFHeader, defaultCSRFHeader, "CSRFHeader"},
	} {
		if *n.field == "" {
			*n.field = n.def
		}
		if !validToken(*n.field) {
			return nil, fmt.Errorf("guard: Config.%s %q is not a valid cookie or header name", n.name, *n.field)
		}
	}
	if cfg.AccessCookie == cfg.RefreshCookie || cfg.AccessCookie == cfg.CSRFCookie || cfg.RefreshCookie == cfg.CSRFCookie {
		return nil, errors.New("guard: AccessCookie, RefreshCookie and CSRFCookie must differ")
	}
	for _, o := range cfg.AllowedOrigins {
		if err := g.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("guard: Config.AllowedOrigins: %w", err)
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheEntries > 0 {
		g.cache = newTokenCache(cfg.CacheEntries)
	}
	if cfg.Revocations != nil {
		g.revoked = revset.Of(cfg.Revocations)
	}
	g.cfg = cfg
	g.started = cfg.Now().UnixNano()
	if cfg.Metrics != nil {
		cfg.Metrics.Gauges(g.state)
	}
	return g, nil
}

// validToken reports whether s is an RFC 9110 §5.6.2 token, what cookie
// and header names must be.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// algIndex maps an allowed algorithm name to its slot; -1 for any other
// (names are case-sensitive, RFC 7515 §4.1.1).
func algIndex(a string) int {
	switch a {
	case ES256:
		return 0
	case EdDSA:
		return 1
	case RS256:
		return 2
	}
	return -1
}

// Principal is the verified caller. A Principal may be shared between
// requests (the cache hands out the same one for the same token): treat
// it, and its slices, as read-only.
type Principal struct {
	Subject   string   // sub: the user's stable id
	Username  string   // preferred_username
	SessionID string   // sid: what revocation uses
	ClientID  string   // client_id
	Roles     []string // roles
	Scopes    []string // scope, split at spaces (RFC 6749 §3.3)
	AuthTime  time.Time
	IssuedAt  time.Time
	ExpiresAt time.Time
	TokenID   string // jti
	// CSRFHash is the token's csrf_hash claim: base64url (no padding) of
	// the SHA-256 of the session's XSRF-TOKEN value, which binds the
	// double-submit token to this session.
	CSRFHash string
}

// HasRole reports whether the principal has the role.
func (p *Principal) HasRole(name string) bool {
	for _, r := range p.Roles {
		if r == name {
			return true
		}
	}
	return false
}

// HasScope reports whether the principal's token carries the scope.
func (p *Principal) HasScope(name string) bool {
	for _, s := range p.Scopes {
		if s == name {
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns a context carrying p, as the middleware does; for
// tests of handlers that sit behind the guard.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the middleware put in ctx.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// now returns the configured clock's time.
func (g *Guard) now() time.Time { return g.cfg.Now() }
