// Package token issues access tokens (JWTs per RFC 9068) and manages the
// keys that sign them. It does not verify them: the guard package does,
// for Gatehouse's own endpoints as for every resource server, so that
// there is one verification to get right (internal/guardkeys hands it
// this package's keys).
//
// Key life cycle: a key is published in the JWKS from the moment it is
// created, starts signing at ActivatesAt (so verifiers that cache the JWKS
// have it before the first token signed with it arrives), stops signing when
// the next key activates, and stays published until the last token it
// signed has expired. Rotation therefore never logs anyone out.
package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// Supported signing algorithms. HMAC algorithms are deliberately absent:
// a verifier that accepts both HMAC and public-key algorithms can be fooled
// into using a public key as an HMAC secret (RFC 8725 §3.1).
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
)

// Algorithms lists the algorithms Gatehouse signs and verifies with.
var Algorithms = []string{ES256, EdDSA, RS256}

// ErrNoKey is returned when no signing key is active.
var ErrNoKey = errors.New("token: no active signing key")

// KeyStore is what the keyring needs from storage.
type KeyStore interface {
	// SigningKeys returns every stored key.
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
	// AddSigningKey stores k and, atomically, retires every unretired key
	// activated no later than k at k.ActivatesAt, keeping it published for
	// keep after that.
	AddSigningKey(ctx context.Context, k store.SigningKey, keep time.Duration) error
	// DeleteExpiredSigningKeys removes keys unpublished before now.
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) error
}

// Key is a parsed signing key.
type Key struct {
	KID         string
	Alg         string
	ActivatesAt time.Time
	RetiresAt   time.Time
	ExpiresAt   time.Time
	private     crypto.Signer
	signer      jose.Signer
}

// Public returns the public half.
func (k *Key) Public() crypto.PublicKey { return k.private.Public() }

func (k *Key) signingAt(t time.Time) bool {
	return !t.Before(k.ActivatesAt) && (k.RetiresAt.IsZero() || t.Before(k.RetiresAt))
}

func (k *Key) publishedAt(t time.Time) bool {
	return k.ExpiresAt.IsZero() || t.Before(k.ExpiresAt)
}

// NewKey generates a key for alg and returns it in stored form.
func NewKey(alg string, now, activates time.Time) (store.SigningKey, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return store.SigningKey{}, fmt.Errorf("token: unsupported algorithm %q (want one of %v)", alg, Algorithms)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("token: generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("token: marshal key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: priv.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("token: thumbprint: %w", err)
	}
	return store.SigningKey{
		// The RFC 7638 thumbprint, shortened: unique per key, and it
		// reveals nothing the public key does not.
		KID:         base64.RawURLEncoding.EncodeToString(tp[:12]),
		Alg:         alg,
		Private:     der,
		CreatedAt:   now,
		ActivatesAt: activates,
	}, nil
}

func parseKey(sk store.SigningKey) (*Key, error) {
	raw, err := x509.ParsePKCS8PrivateKey(sk.Private)
	if err != nil {
		return nil, fmt.Errorf("token: key %s: %w", sk.KID, err)
	}
	priv, ok := raw.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("token: key %s is not a signing key", sk.KID)
	}
	switch priv.(type) {
	case *ecdsa.PrivateKey:
		if sk.Alg != ES256 {
			return nil, fmt.Errorf("token: key %s: EC key stored as %s", sk.KID, sk.Alg)
		}
	case ed25519.PrivateKey:
		if sk.Alg != EdDSA {
			return nil, fmt.Errorf("token: key %s: Ed25519 key stored as %s", sk.KID, sk.Alg)
		}
	case *rsa.PrivateKey:
		if sk.Alg != RS256 {
			return nil, fmt.Errorf("token: key %s: RSA key stored as %s", sk.KID, sk.Alg)
		}
	default:
		return nil, fmt.Errorf("token: key %s: unsupported key type %T", sk.KID, raw)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Alg), Key: jose.JSONWebKey{Key: priv, KeyID: sk.KID}},
		(&jose.SignerOptions{}).WithType(TypeAccessToken))
	if err != nil {
		return nil, fmt.Errorf("token: key %s: %w", sk.KID, err)
	}
	return &Key{KID: sk.KID, Alg: sk.Alg, ActivatesAt: sk.ActivatesAt, RetiresAt: sk.RetiresAt,
		ExpiresAt: sk.ExpiresAt, private: priv, signer: signer}, nil
}

// Keyring holds the parsed keys and reloads them from the store, so a
// rotation made by another process (the CLI, another node) is picked up.
type Keyring struct {
	ks     KeyStore
	clock  clock.Clock
	keep   time.Duration
	reload time.Duration

	mu       sync.RWMutex
	keys     []*Key
	loadedAt time.Time
	// nextEdge is the earliest future activation or retirement: past it the
	// signing key changes even if nothing was written, so reload.
	nextEdge time.Time
}

// NewKeyring returns a keyring over ks. keep is how long a retired key
// stays published: the access-token lifetime plus the verifiers' leeway.
// reload bounds how stale the in-memory copy may be.
func NewKeyring(ks KeyStore, c clock.Clock, keep, reload time.Duration) *Keyring {
	return &Keyring{ks: ks, clock: c, keep: keep, reload: reload}
}

// Load reads the keys from the store.
func (r *Keyring) Load(ctx context.Context) error {
	stored, err := r.ks.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("token: load keys: %w", err)
	}
	now := r.clock.Now()
	keys := make([]*Key, 0, len(stored))
	var edge time.Time
	for _, sk := range stored {
		k, err := parseKey(sk)
		if err != nil {
			return err
		}
		keys = append(keys, k)
		for _, t := range []time.Time{k.ActivatesAt, k.RetiresAt} {
			if t.After(now) && (edge.IsZero() || t.Before(edge)) {
				edge = t
			}
		}
	}
	r.mu.Lock()
	r.keys, r.loadedAt, r.nextEdge = keys, now, edge
	r.mu.Unlock()
	return nil
}

func (r *Keyring) fresh(ctx context.Context) error {
	now := r.clock.Now()
	r.mu.RLock()
	stale := r.loadedAt.IsZero() || now.Sub(r.loadedAt) >= r.reload || (!r.nextEdge.IsZero() && !now.Before(r.nextEdge))
	r.mu.RUnlock()
	if stale {
		return r.Load(ctx)
	}
	return nil
}

// Signing returns the key that signs now: among the keys in their signing
// window, the one activated last.
func (r *Keyring) Signing(ctx context.Context) (*Key, error) {
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	now := r.clock.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	var best *Key
	for _, k := range r.keys {
		if k.signingAt(now) && (best == nil || k.ActivatesAt.After(best.ActivatesAt)) {
			best = k
		}
	}
	if best == nil {
		return nil, ErrNoKey
	}
	return best, nil
}

// Published returns the keys verifiers should trust now.
func (r *Keyring) Published(ctx context.Context) ([]*Key, error) {
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	now := r.clock.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Key
	for _, k := range r.keys {
		if k.publishedAt(now) {
			out = append(out, k)
		}
	}
	return out, nil
}

// ErrUnknownKey is returned by Lookup when no published key has the kid.
var ErrUnknownKey = errors.New("token: no published key with this kid")

// Lookup returns the published key with the kid, for verifying a token
// that names it. An unknown kid causes at most one reload per second: a
// key another process has just added is found at once, yet a flood of
// made-up kids cannot turn into a flood of database reads.
func (r *Keyring) Lookup(ctx context.Context, kid string) (*Key, error) {
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	if k := r.find(kid); k != nil {
		return k, nil
	}
	r.mu.RLock()
	recent := r.clock.Now().Sub(r.loadedAt) < time.Second
	r.mu.RUnlock()
	if recent {
		return nil, ErrUnknownKey
	}
	if err := r.Load(ctx); err != nil {
		return nil, err
	}
	if k := r.find(kid); k != nil {
		return k, nil
	}
	return nil, ErrUnknownKey
}

func (r *Keyring) find(kid string) *Key {
	now := r.clock.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range r.keys {
		if k.KID == kid && k.publishedAt(now) {
			return k
		}
	}
	return nil
}

// Ensure makes sure a key with alg is signing, creating one that
// activates at once if not (first start, or the configured algorithm
// changed). Older keys retire, but stay published until their tokens expire.
func (r *Keyring) Ensure(ctx context.Context, alg string) error {
	if k, err := r.Signing(ctx); err == nil && k.Alg == alg {
		return nil
	} else if err != nil && !errors.Is(err, ErrNoKey) {
		return err
	}
	// Another key may already be scheduled with this algorithm.
	now := r.clock.Now()
	r.mu.RLock()
	scheduled := slices.ContainsFunc(r.keys, func(k *Key) bool {
		return k.Alg == alg && k.RetiresAt.IsZero() && k.ActivatesAt.After(now)
	})
	r.mu.RUnlock()
	if scheduled {
		if _, err := r.Signing(ctx); err == nil {
			return nil // the current key signs until the scheduled one takes over
		}
	}
	_, err := r.Rotate(ctx, alg, 0)
	return err
}

// Rotate creates a key for alg that starts signing after delay; the current
// key signs until then and stays published until its tokens expire.
func (r *Keyring) Rotate(ctx context.Context, alg string, delay time.Duration) (store.SigningKey, error) {
	now := r.clock.Now()
	sk, err := NewKey(alg, now, now.Add(delay))
	if err != nil {
		return store.SigningKey{}, err
	}
	if err := r.ks.AddSigningKey(ctx, sk, r.keep); err != nil {
		return store.SigningKey{}, fmt.Errorf("token: add key: %w", err)
	}
	// Keys whose every token has expired verify nothing; drop them so the
	// table does not grow with each rotation.
	if err := r.ks.DeleteExpiredSigningKeys(ctx, now); err != nil {
		return store.SigningKey{}, fmt.Errorf("token: prune keys: %w", err)
	}
	if err := r.Load(ctx); err != nil {
		return store.SigningKey{}, err
	}
	return sk, nil
}

// JWKS returns the published public keys as an RFC 7517 key set.
func (r *Keyring) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	keys, err := r.Published(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: k.KID, Algorithm: k.Alg, Use: "sig"})
	}
	return set, nil
}
