// Package token issues access tokens (JWTs per RFC 9068) and manages the
// keys that sign them and the OpenID Connect provider's ID tokens. It does
// not verify access tokens: the guard package does, for Gatehouse's own
// endpoints as for every resource server, so that there is one
// verification to get right (internal/guardkeys hands it this package's
// access keys).
//
// Keys have a purpose, each a rotation lineage of its own with a keyring
// of its own: access keys (PurposeAccess) sign access tokens with the JOSE
// typ "at+jwt", ID-token keys (PurposeID) sign ID tokens with typ "JWT"
// (and, through SignTyped, the provider's other tokens with their own
// typ, such as logout tokens' "logout+jwt", but never "at+jwt"). Only
// access keys sign "at+jwt", so a verifier that checks typ (RFC 8725
// §3.11), as the guard does, cannot be handed an access token signed by
// anything else. One JWKS publishes both (KeySets).
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
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

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

// Key purposes: a keyring holds, signs with and rotates the keys of one.
const (
	// PurposeAccess keys sign access tokens (typ TypeAccessToken).
	PurposeAccess = store.PurposeAccess
	// PurposeID keys sign OpenID Connect ID tokens (typ TypeIDToken).
	PurposeID = store.PurposeID
)

// Purposes lists the key purposes.
var Purposes = []string{PurposeAccess, PurposeID}

// TypeIDToken is the JOSE "typ" of an ID token: "JWT", as RFC 7519 §5.1
// recommends, OpenID Connect Core §2 defining none of its own. It differs
// from TypeAccessToken, so an ID token is never taken for an access token
// by a verifier that checks typ (RFC 8725 §3.11), nor the other way round
// by a relying party that does.
const TypeIDToken = "JWT"

// typeOf returns the JOSE typ the keys of purpose sign with.
func typeOf(purpose string) (string, error) {
	switch purpose {
	case PurposeAccess, "":
		return TypeAccessToken, nil
	case PurposeID:
		return TypeIDToken, nil
	}
	return "", fmt.Errorf("token: unknown key purpose %q (want one of %v)", purpose, Purposes)
}

// ErrNoKey is returned when no signing key is active.
var ErrNoKey = errors.New("token: no active signing key")

// ErrRotationConflict is returned by Rotate when another key was added
// (by another node or operator) between reading the keys and adding one:
// nothing was written, and the caller should look again before deciding
// to rotate once more.
var ErrRotationConflict = errors.New("another rotation happened first")

// KeyStore is what the keyring needs from storage, and each method's
// contract, which every backend is held to by the conformance suite
// (storetest).
type KeyStore interface {
	// SigningKeys returns every stored key, of every purpose, each with
	// its Purpose (store.PurposeAccess for a key stored without one),
	// oldest activation first.
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
	// AddSigningKey stores k and, atomically, retires every unretired key
	// of k's purpose (an empty k.Purpose being store.PurposeAccess)
	// activated no later than k at k.ActivatesAt, keeping it published for
	// keep after that, provided the newest key of that purpose (by
	// ActivatesAt, then CreatedAt, then kid compared byte by byte) is
	// still after ("" for no key of that purpose); otherwise, the newest
	// key being another or k's kid taken, it returns store.ErrConflict and
	// writes nothing. Keys of another purpose are neither retired nor
	// compared with: each purpose is a rotation lineage of its own. This
	// compare-and-set is what lets several nodes share one store: of those
	// that saw the same newest key and decided to add one, exactly one
	// does.
	AddSigningKey(ctx context.Context, k store.SigningKey, keep time.Duration, after string) error
	// ResealSigningKeys sets each key's private bytes to r.New where the
	// row still holds r.Old, in one transaction (see store.KeyReseal),
	// returning how many rows changed; rows holding anything else are
	// left alone.
	ResealSigningKeys(ctx context.Context, rs []store.KeyReseal) (int, error)
	// DeleteExpiredSigningKeys removes keys unpublished before now.
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) error
}

// Key is a parsed signing key.
type Key struct {
	KID string
	Alg string
	// Purpose is PurposeAccess or PurposeID; it fixes the JOSE typ Sign
	// writes.
	Purpose     string
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   time.Time
	ExpiresAt   time.Time
	private     crypto.Signer
	signer      jose.Signer
	// signingKey is what signer signs with, for a signer of another typ
	// (SignTyped).
	signingKey jose.SigningKey
}

// Public returns the public half.
func (k *Key) Public() crypto.PublicKey { return k.private.Public() }

// Sign returns claims signed with k as a compact JWS (RFC 7515 §7.1): alg
// k.Alg, kid k.KID, and typ TypeAccessToken for an access key or
// TypeIDToken for an ID-token key. claims must marshal, with
// encoding/json, to a JSON object. ES256 signatures have a low S (see
// lows.go), as the guard requires. Sign does not look at the time: sign
// with the key Keyring.Signing returns.
func (k *Key) Sign(claims any) (string, error) {
	raw, err := jwt.Signed(k.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return raw, nil
}

// ErrType: a key was asked to sign with a typ its purpose does not sign
// with (SignTyped).
var ErrType = errors.New("token: the key's purpose does not sign this typ")

// SignTyped is Sign with the JOSE typ header typ instead of the purpose's
// own: explicit typing of a token of another kind (RFC 8725 §3.11), such
// as an OpenID Connect back-channel logout token, "logout+jwt"
// (Back-Channel Logout 1.0 §2.4). Only an ID-token key signs with another
// typ, and never with TypeAccessToken (in any case, with or without the
// "application/" prefix, RFC 7515 §4.1.9), so an access token still comes
// from an access key only; an access key signs only TypeAccessToken.
// ErrType otherwise, and for an empty typ.
func (k *Key) SignTyped(typ string, claims any) (string, error) {
	access := strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), TypeAccessToken)
	switch {
	case typ == "", k.Purpose == PurposeAccess && !access, k.Purpose != PurposeAccess && access:
		return "", fmt.Errorf("%w: %s key %s, typ %q", ErrType, k.Purpose, k.KID, typ)
	}
	signer, err := jose.NewSigner(k.signingKey, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("token: key %s: %w", k.KID, err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return raw, nil
}

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

// parseKey parses sk, whose Private must already be the plain DER.
func parseKey(sk store.SigningKey) (*Key, error) {
	purpose := sk.PurposeOrAccess()
	typ, err := typeOf(purpose)
	if err != nil {
		return nil, fmt.Errorf("token: key %s: %w", sk.KID, err)
	}
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
	var signingKey any = jose.JSONWebKey{Key: priv, KeyID: sk.KID}
	if ec, ok := priv.(*ecdsa.PrivateKey); ok {
		signingKey = ES256Signer(ec, sk.KID) // low-S only: see lows.go
	}
	jsk := jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Alg), Key: signingKey}
	signer, err := jose.NewSigner(jsk, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return nil, fmt.Errorf("token: key %s: %w", sk.KID, err)
	}
	return &Key{KID: sk.KID, Alg: sk.Alg, Purpose: purpose, CreatedAt: sk.CreatedAt, ActivatesAt: sk.ActivatesAt, RetiresAt: sk.RetiresAt,
		ExpiresAt: sk.ExpiresAt, private: priv, signer: signer, signingKey: jsk}, nil
}

// Keyring holds the parsed keys of one purpose and reloads them from the
// store, so a rotation made by another process (the CLI, another node) is
// picked up: every node over one store publishes the same JWKS at most the
// reload interval after a change, and finds a new key at once when a token
// names it (see Lookup). Keys of another purpose in the same store are
// not its own: it neither loads, publishes, signs with, rotates nor
// reseals them.
type Keyring struct {
	purpose string
	ks      KeyStore
	clock   clock.Clock
	keep    time.Duration
	reload  time.Duration
	seal    *sealer

	mu       sync.RWMutex
	keys     []*Key
	loadedAt time.Time
	// nextEdge is the earliest future activation or retirement: past it the
	// signing key changes even if nothing was written, so reload.
	nextEdge time.Time
}

// Bounds of the reload interval. Below the minimum every request would
// read the database; above the maximum nodes could publish different key
// sets for longer than a verifier's JWKS cache, and a key's activation
// delay is chosen to cover that cache plus this interval.
const (
	MinReload     = time.Second
	MaxReload     = time.Minute
	DefaultReload = 10 * time.Second
)

// NewKeyring returns the access-token keyring (PurposeAccess) over ks,
// which stores private keys unencrypted. keep is how long a retired key
// stays published: the access-token lifetime plus the verifiers' leeway.
// reload bounds how stale the in-memory copy may be; it is clamped to
// [MinReload, MaxReload], and 0 means DefaultReload.
func NewKeyring(ks KeyStore, c clock.Clock, keep, reload time.Duration) *Keyring {
	r, err := NewEncryptedKeyring(ks, c, keep, reload, Encryption{})
	if err != nil {
		panic(err) // unreachable: no key to be wrong
	}
	return r
}

// NewEncryptedKeyring is NewKeyring with private keys protected at rest as
// enc says. Call Prepare before use: it checks the stored keys open and
// encrypts those that are not yet.
func NewEncryptedKeyring(ks KeyStore, c clock.Clock, keep, reload time.Duration, enc Encryption) (*Keyring, error) {
	return NewEncryptedKeyringFor(PurposeAccess, ks, c, keep, reload, enc)
}

// NewEncryptedKeyringFor is NewEncryptedKeyring for the keys of purpose
// (PurposeAccess or PurposeID): the keyring of ID-token keys is
// NewEncryptedKeyringFor(PurposeID, ...), over the same store and with the
// same encryption as the access keyring. keep is how long its retired keys
// stay published: the lifetime of the tokens they sign plus the
// verifiers' leeway.
func NewEncryptedKeyringFor(purpose string, ks KeyStore, c clock.Clock, keep, reload time.Duration, enc Encryption) (*Keyring, error) {
	if purpose == "" || !slices.Contains(Purposes, purpose) {
		return nil, fmt.Errorf("token: unknown key purpose %q (want one of %v)", purpose, Purposes)
	}
	s, err := newSealer(enc)
	if err != nil {
		return nil, err
	}
	if reload == 0 {
		reload = DefaultReload
	}
	reload = min(max(reload, MinReload), MaxReload)
	return &Keyring{purpose: purpose, ks: ks, clock: c, keep: keep, reload: reload, seal: s}, nil
}

// Purpose is the purpose of the keys this keyring holds.
func (r *Keyring) Purpose() string { return r.purpose }

// Encrypted reports whether private keys are encrypted at rest.
func (r *Keyring) Encrypted() bool { return r.seal.encrypts() }

// own returns the stored keys of the keyring's purpose, in stored order.
func (r *Keyring) own(stored []store.SigningKey) []store.SigningKey {
	out := make([]store.SigningKey, 0, len(stored))
	for _, sk := range stored {
		if sk.PurposeOrAccess() == r.purpose {
			out = append(out, sk)
		}
	}
	return out
}

// Prepare brings the stored keys of the keyring's purpose in line with the
// configured encryption, once at startup (each keyring over a store
// prepares its own: the access and the ID-token keyring both must be): it
// opens every key, failing on the first that does not
// open (a wrong key_encryption_key stops the process here, before anything
// could create replacement keys and log everyone out), then, in one
// transaction, encrypts keys still stored in the clear and re-encrypts
// those sealed under the previous key-encryption key. It returns how many
// keys it sealed anew. Several nodes may run it at once: a row another node
// has resealed meanwhile is left as that node wrote it.
func (r *Keyring) Prepare(ctx context.Context) (int, error) {
	stored, err := r.ks.SigningKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("token: load keys: %w", err)
	}
	var reseal []store.KeyReseal
	for _, sk := range r.own(stored) {
		der, state, err := r.seal.open(sk)
		if err != nil {
			return 0, err
		}
		plain := sk
		plain.Private = der
		if _, err := parseKey(plain); err != nil {
			return 0, err
		}
		if r.seal.encrypts() && state != stateCurrent {
			reseal = append(reseal, store.KeyReseal{KID: sk.KID, Old: sk.Private, New: r.seal.seal(sk.KID, der)})
		}
	}
	n := 0
	if len(reseal) > 0 {
		if n, err = r.ks.ResealSigningKeys(ctx, reseal); err != nil {
			return 0, fmt.Errorf("token: encrypt keys at rest: %w", err)
		}
	}
	return n, r.Load(ctx)
}

// Load reads the keys of the keyring's purpose from the store.
func (r *Keyring) Load(ctx context.Context) error {
	_, err := r.load(ctx)
	return err
}

// load reads the keys from the store and returns them as read: callers
// that decide on them (Ensure, Rotate) must use this snapshot, not r.keys,
// which a concurrent load may replace.
func (r *Keyring) load(ctx context.Context) ([]*Key, error) {
	stored, err := r.ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("token: load keys: %w", err)
	}
	now := r.clock.Now()
	stored = r.own(stored)
	keys := make([]*Key, 0, len(stored))
	var edge time.Time
	for _, sk := range stored {
		der, _, err := r.seal.open(sk)
		if err != nil {
			return nil, err
		}
		sk.Private = der
		k, err := parseKey(sk)
		if err != nil {
			return nil, err
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
	return keys, nil
}

// newest returns the kid of the key the store compares AddSigningKey's
// after with: greatest ActivatesAt, then CreatedAt, then kid; "" for none.
// keys are one purpose's, as the store compares within a purpose.
func newest(keys []*Key) string {
	var best *Key
	for _, k := range keys {
		if best == nil || k.ActivatesAt.After(best.ActivatesAt) ||
			(k.ActivatesAt.Equal(best.ActivatesAt) && (k.CreatedAt.After(best.CreatedAt) ||
				(k.CreatedAt.Equal(best.CreatedAt) && k.KID > best.KID))) {
			best = k
		}
	}
	if best == nil {
		return ""
	}
	return best.KID
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
//
// Nodes starting together on an empty store all find no key; each tries
// to add one after the same (absent) newest key, the store lets exactly
// one succeed, and the others reload and use the winner's.
func (r *Keyring) Ensure(ctx context.Context, alg string) error {
	const attempts = 3
	for i := 0; ; i++ {
		keys, err := r.load(ctx)
		if err != nil {
			return err
		}
		if ensured(keys, alg, r.clock.Now()) {
			return nil
		}
		_, err = r.rotate(ctx, alg, 0, newest(keys))
		if !errors.Is(err, ErrRotationConflict) || i == attempts-1 {
			return err
		}
		// Another node added a key since we looked: look again.
	}
}

// ensured reports whether keys need no new key for alg at now: one with
// alg signs, or one with alg is scheduled and some key signs until then.
func ensured(keys []*Key, alg string, now time.Time) bool {
	var signing *Key
	for _, k := range keys {
		if k.signingAt(now) && (signing == nil || k.ActivatesAt.After(signing.ActivatesAt)) {
			signing = k
		}
	}
	if signing == nil {
		return false
	}
	return signing.Alg == alg || slices.ContainsFunc(keys, func(k *Key) bool {
		return k.Alg == alg && k.RetiresAt.IsZero() && k.ActivatesAt.After(now)
	})
}

// Rotate creates a key for alg that starts signing after delay; the current
// key signs until then and stays published until its tokens expire. It
// adds the key only if no other was added since it read the keys, and
// otherwise returns ErrRotationConflict: two operators rotating at once
// create one key, not two. It returns the key as stored (sealed, with
// encryption on).
func (r *Keyring) Rotate(ctx context.Context, alg string, delay time.Duration) (store.SigningKey, error) {
	keys, err := r.load(ctx)
	if err != nil {
		return store.SigningKey{}, err
	}
	return r.rotate(ctx, alg, delay, newest(keys))
}

func (r *Keyring) rotate(ctx context.Context, alg string, delay time.Duration, after string) (store.SigningKey, error) {
	now := r.clock.Now()
	sk, err := NewKey(alg, now, now.Add(delay))
	if err != nil {
		return store.SigningKey{}, err
	}
	sk.Purpose = r.purpose
	sk.Private = r.seal.seal(sk.KID, sk.Private)
	if err := r.ks.AddSigningKey(ctx, sk, r.keep, after); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Whoever won, this keyring should see their key now.
			if lerr := r.Load(ctx); lerr != nil {
				return store.SigningKey{}, errors.Join(fmt.Errorf("token: add key: %w: %w", ErrRotationConflict, err), lerr)
			}
			return store.SigningKey{}, fmt.Errorf("token: add key: %w: %w", ErrRotationConflict, err)
		}
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
	return KeySets{r}.JWKS(ctx)
}

// KeySets publishes the keys of several keyrings as one RFC 7517 key set:
// a server has one JWKS URL, at which relying parties find the ID-token
// keys and resource servers the access keys (KeySets{access, id}). It
// widens only what is published: a verifier of one kind of token must
// still trust only the keyring of its kind (guardkeys.FromKeyring of the
// access keyring, for access tokens), and tell the kinds apart by typ.
type KeySets []*Keyring

// JWKS returns every keyring's published public keys, keyring by keyring
// in order. kids are unique across keyrings over one store: the kid is
// the stored key's primary key.
func (s KeySets) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, r := range s {
		keys, err := r.Published(ctx)
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		for _, k := range keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: k.KID, Algorithm: k.Alg, Use: "sig"})
		}
	}
	return set, nil
}
