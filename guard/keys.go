package guard

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// KeySource finds a verification key by its kid. Implementations must be
// safe for concurrent use and must treat kid as untrusted input: never a
// path, never part of a query (RFC 8725 §3.10).
type KeySource interface {
	// Key returns the key with the kid, or an error wrapping
	// ErrKeyNotFound.
	Key(ctx context.Context, kid string) (Key, error)
}

// Key is a public verification key bound to one algorithm (RFC 8725
// §3.1: a key is used with the algorithm it was published for, never the
// one a token names).
type Key struct {
	ID     string
	Alg    string           // ES256, EdDSA or RS256
	Public crypto.PublicKey // *ecdsa.PublicKey (P-256), ed25519.PublicKey or *rsa.PublicKey
}

// ErrKeyNotFound: no key with the kid. Verify reports it as ErrSignature.
var ErrKeyNotFound = errors.New("guard: no key with this kid")

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3: 2048
// bits or larger).
const minRSABits = 2048

// keySet is an immutable kid -> key map.
type keySet map[string]Key

func (s keySet) Key(_ context.Context, kid string) (Key, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return Key{}, ErrKeyNotFound
}

// StaticKeys returns a KeySource over a fixed RFC 7517 JWK Set, for a key
// set given in configuration or fetched by other means. Keys for another
// use than "sig", of another algorithm than ES256, EdDSA or RS256, or
// without a kid are skipped; an RSA key under 2048 bits, or a kid that
// appears twice, is an error, as is a set with no usable key.
func StaticKeys(jwksJSON []byte) (KeySource, error) {
	set, notes, err := parseJWKS(jwksJSON)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		if n.fatal {
			return nil, fmt.Errorf("guard: JWKS: %s", n.msg)
		}
	}
	if len(set) == 0 {
		return nil, errors.New("guard: JWKS has no usable signing key")
	}
	return set, nil
}

// keyNote says why a key of a set was skipped.
type keyNote struct {
	msg   string
	fatal bool // an operator error, not a key meant for someone else
}

// parseJWKS parses a JWK Set with go-jose, one key at a time, so that one
// key of a type go-jose does not know does not hide the others.
func parseJWKS(b []byte) (keySet, []keyNote, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("guard: JWKS: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New(`guard: JWKS has no "keys" member`)
	}
	set := keySet{}
	var notes []keyNote
	for i, rawKey := range doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(rawKey); err != nil {
			notes = append(notes, keyNote{msg: fmt.Sprintf("key %d skipped: %v", i, err)})
			continue
		}
		k, note := usableKey(jwk)
		if note != nil {
			note.msg = fmt.Sprintf("key %d (kid %q): %s", i, jwk.KeyID, note.msg)
			notes = append(notes, *note)
			continue
		}
		if _, dup := set[k.ID]; dup {
			notes = append(notes, keyNote{msg: fmt.Sprintf("key %d: kid %q appears twice", i, k.ID), fatal: true})
			delete(set, k.ID) // ambiguous: trust neither
			continue
		}
		set[k.ID] = k
	}
	return set, notes, nil
}

// usableKey checks one JWK: a public key for signatures, of a supported
// algorithm that matches its type and size.
func usableKey(jwk jose.JSONWebKey) (Key, *keyNote) {
	if jwk.Use != "" && jwk.Use != "sig" {
		return Key{}, &keyNote{msg: "use is not sig"}
	}
	if jwk.KeyID == "" {
		return Key{}, &keyNote{msg: "no kid"}
	}
	if !jwk.IsPublic() {
		// A private or symmetric key in a public key set is a publishing
		// mistake; an "oct" key in particular is how HMAC confusion starts.
		return Key{}, &keyNote{msg: "not a public key", fatal: true}
	}
	var alg string // each key type serves exactly one supported algorithm
	switch pub := jwk.Key.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return Key{}, &keyNote{msg: "EC key not on P-256"}
		}
		if _, err := pub.ECDH(); err != nil { // the point is on the curve
			return Key{}, &keyNote{msg: "invalid EC point", fatal: true}
		}
		alg = ES256
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return Key{}, &keyNote{msg: "invalid Ed25519 key", fatal: true}
		}
		alg = EdDSA
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return Key{}, &keyNote{msg: fmt.Sprintf("RSA key of %d bits is under %d", pub.N.BitLen(), minRSABits), fatal: true}
		}
		alg = RS256
	default:
		return Key{}, &keyNote{msg: fmt.Sprintf("unsupported key type %T", jwk.Key)}
	}
	// A key without alg serves its type's one algorithm; a key published
	// for another (PS256, ES384 on the wrong curve, ...) is not ours.
	if jwk.Algorithm != "" && jwk.Algorithm != alg {
		return Key{}, &keyNote{msg: fmt.Sprintf("algorithm %q is not supported for this key", jwk.Algorithm)}
	}
	k := Key{ID: jwk.KeyID, Alg: alg, Public: jwk.Key}
	return k, nil
}

// RemoteOptions configure a Remote key set; zero fields take defaults.
type RemoteOptions struct {
	// Client fetches the set; default an http.Client with a 10s timeout.
	// A fetch is bounded by the client's Timeout, or 10s if it has none.
	Client *http.Client
	// RefreshInterval is how often the set is fetched again (default 5m).
	// A shorter Cache-Control max-age on the response wins, but the
	// interval never drops below 10s.
	RefreshInterval time.Duration
	// MinRefetch is the least time between two fetches caused by unknown
	// kids (default 10s), so a flood of made-up kids is at most one fetch
	// per MinRefetch.
	MinRefetch time.Duration
	// MaxBytes caps the response body (default 1 MiB).
	MaxBytes int64
	// Log receives fetch failures and skipped keys; default: discard.
	Log *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// AllowInsecureHTTP lets the JWKS be fetched over plain HTTP from
	// another machine. Off, only https (or http on a loopback address) is
	// accepted: a key set anyone on the path can replace is a key set
	// anyone can sign tokens for.
	AllowInsecureHTTP bool
}

// Defaults of RemoteOptions.
const (
	defaultRefreshInterval = 5 * time.Minute
	minRefreshInterval     = 10 * time.Second
	defaultMinRefetch      = 10 * time.Second
	defaultMaxJWKSBytes    = 1 << 20
	defaultFetchTimeout    = 10 * time.Second
)

// Remote is a KeySource over a JWKS URL (Gatehouse's is
// /.well-known/jwks.json), refreshed in the background and on an unknown
// kid. Make it with RemoteJWKS; it is safe for concurrent use.
type Remote struct {
	url    string
	opts   RemoteOptions
	urlErr error // the URL is refused (checkRemoteURL): every fetch fails with it

	keys atomic.Pointer[keySet]

	mu        sync.Mutex
	lastFetch time.Time  // start of the last fetch, under mu
	inflight  *fetchCall // the fetch in progress, under mu
	maxAge    time.Duration
	fetches   atomic.Int64
}

// fetchCall is one fetch that concurrent callers share (single flight).
type fetchCall struct {
	done chan struct{}
	err  error
}

// RemoteJWKS returns a key source for the JWK Set at url. It fetches on
// first use; call Start to fetch at once and keep the set fresh.
func RemoteJWKS(url string, opts RemoteOptions) *Remote {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: defaultFetchTimeout}
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = defaultRefreshInterval
	}
	opts.RefreshInterval = max(opts.RefreshInterval, minRefreshInterval)
	if opts.MinRefetch <= 0 {
		opts.MinRefetch = defaultMinRefetch
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = defaultMaxJWKSBytes
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Remote{url: url, opts: opts, urlErr: checkRemoteURL(url, opts.AllowInsecureHTTP)}
}

// Start fetches the set once and then keeps refreshing it in the
// background until ctx ends. It returns the first fetch's error, but the
// background refresh runs either way, so an endpoint that is down at
// start-up is picked up once it answers.
func (r *Remote) Start(ctx context.Context) error {
	err := r.fetch(ctx, true)
	go r.loop(ctx, err)
	return err
}

func (r *Remote) loop(ctx context.Context, lastErr error) {
	backoff := minRefreshInterval
	for {
		wait := r.interval()
		if lastErr != nil {
			wait = min(backoff, wait)
			backoff = min(2*backoff, r.opts.RefreshInterval)
		} else {
			backoff = minRefreshInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		lastErr = r.fetch(ctx, true)
	}
}

// interval is the refresh interval, shortened by the server's max-age.
func (r *Remote) interval() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.opts.RefreshInterval
	if r.maxAge > 0 && r.maxAge < d {
		d = max(r.maxAge, minRefreshInterval)
	}
	return d
}

// Fetches returns how many fetches the source has made.
func (r *Remote) Fetches() int64 { return r.fetches.Load() }

// Key returns the key with the kid. An unknown kid causes a fetch at most
// once per MinRefetch, shared by every caller waiting for it
// (SECURITY-CHECKLIST 10: an unknown kid triggers at most a rate-limited
// re-fetch).
func (r *Remote) Key(ctx context.Context, kid string) (Key, error) {
	if k, ok := r.lookup(kid); ok {
		return k, nil
	}
	if err := r.fetch(ctx, false); err != nil {
		return Key{}, fmt.Errorf("%w (key set unavailable: %w)", ErrKeyNotFound, err)
	}
	if k, ok := r.lookup(kid); ok {
		return k, nil
	}
	return Key{}, ErrKeyNotFound
}

func (r *Remote) lookup(kid string) (Key, bool) {
	s := r.keys.Load()
	if s == nil {
		return Key{}, false
	}
	k, ok := (*s)[kid]
	return k, ok
}

// fetch loads the set, joining a fetch in progress. Unless scheduled, it
// does nothing if the last fetch began less than MinRefetch ago.
func (r *Remote) fetch(ctx context.Context, scheduled bool) error {
	r.mu.Lock()
	if c := r.inflight; c != nil {
		r.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	now := r.opts.Now()
	if !scheduled && !r.lastFetch.IsZero() && now.Sub(r.lastFetch) < r.opts.MinRefetch {
		r.mu.Unlock()
		return nil
	}
	c := &fetchCall{done: make(chan struct{})}
	r.inflight, r.lastFetch = c, now
	r.mu.Unlock()

	// The fetch is shared: one caller giving up must not cancel it for
	// the others, so it runs on its own deadline (the client's timeout).
	set, maxAge, err := r.get(context.WithoutCancel(ctx))
	if err == nil {
		r.keys.Store(&set)
	} else {
		r.opts.Log.Warn("guard: JWKS fetch failed; keeping the previous key set", "url", r.url, "err", err)
	}
	r.mu.Lock()
	if err == nil {
		r.maxAge = maxAge
	}
	r.inflight = nil
	r.mu.Unlock()
	c.err = err
	close(c.done)
	return err
}

// get performs one HTTP fetch.
func (r *Remote) get(ctx context.Context) (keySet, time.Duration, error) {
	if r.urlErr != nil {
		return keySet{}, 0, r.urlErr
	}
	r.fetches.Add(1)
	// Bounded even with a client without a timeout: waiters share this
	// fetch, so it must end.
	timeout := r.opts.Client.Timeout
	if timeout <= 0 {
		timeout = defaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// #nosec G704 -- r.url is the JWKS URL the application gave RemoteJWKS
	// (its own configuration), never one taken from a token (jku and x5u
	// are refused) or a request.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("guard: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.opts.Client.Do(req) // #nosec G704 -- req is for r.url, as above
	if err != nil {
		return nil, 0, fmt.Errorf("guard: JWKS fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("guard: JWKS fetch: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.opts.MaxBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("guard: JWKS read: %w", err)
	}
	if int64(len(body)) > r.opts.MaxBytes {
		return nil, 0, fmt.Errorf("guard: JWKS larger than %d bytes", r.opts.MaxBytes)
	}
	set, notes, err := parseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	for _, n := range notes {
		r.opts.Log.Warn("guard: JWKS key skipped", "url", r.url, "reason", n.msg)
	}
	if len(set) == 0 {
		return nil, 0, errors.New("guard: JWKS has no usable signing key")
	}
	return set, maxAge(resp.Header.Values("Cache-Control")), nil
}

// maxAge returns the Cache-Control max-age (RFC 9111 §5.2.2.1), 0 if none.
func maxAge(values []string) time.Duration {
	for _, v := range values {
		for _, d := range strings.Split(v, ",") {
			name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
			if !ok || !strings.EqualFold(name, "max-age") {
				continue
			}
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err == nil && n > 0 && n < 1<<31 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}
