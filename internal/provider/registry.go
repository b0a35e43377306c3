package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// Grant types a client may be registered for. The implicit and password
// grants do not exist here (RFC 9700 §2.1.2, §2.4).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Client authentication methods at the token endpoint (RFC 7591 §2).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
)

// ErrInvalidMetadata wraps every refusal of a registration: the detail
// says which field and why (RFC 7591 §3.2.2's invalid_client_metadata and
// invalid_redirect_uri).
var ErrInvalidMetadata = errors.New("provider: invalid client metadata")

// ErrPublicClient: the operation needs a confidential client (a public
// client has no secret to rotate).
var ErrPublicClient = errors.New("provider: the client is public")

// ErrKeyClient: the client authenticates with its keys (private_key_jwt),
// so it has no secret.
var ErrKeyClient = errors.New("provider: the client authenticates with its keys")

// ErrUnknownClient: no client has the id (it wraps store.ErrNotFound).
var ErrUnknownClient = fmt.Errorf("provider: no such client: %w", store.ErrNotFound)

// unknown turns the store's not-found into ErrUnknownClient.
func unknown(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownClient
	}
	return err
}

// Metadata is a client as the admin API and `gatehouse client show`
// present it: its registration under RFC 7591 §2's names, never its
// secret or the secret's hash.
type Metadata struct {
	ClientID                string   `json:"client_id"`
	ClientName              string   `json:"client_name"`
	Public                  bool     `json:"public"`
	FirstParty              bool     `json:"first_party"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	RedirectURIs            []string `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	Scope                   string   `json:"scope"`
	Audiences               []string `json:"audiences"`
	BackchannelLogoutURI    string   `json:"backchannel_logout_uri,omitempty"`
	RequirePAR              bool     `json:"require_pushed_authorization_requests"`
	// AccessTokenTTL and RefreshTokenTTL are the client's own token
	// lifetimes in seconds, absent when it keeps the server's.
	AccessTokenTTL  int64 `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL int64 `json:"refresh_token_ttl,omitempty"`
	// JWKS is a private_key_jwt client's public keys.
	JWKS      json.RawMessage `json:"jwks,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// MetadataOf presents c; absent lists are empty, not null.
func MetadataOf(c store.Client) Metadata {
	list := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return Metadata{ClientID: c.ID, ClientName: c.Name, Public: c.Public, FirstParty: c.FirstParty,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, RedirectURIs: list(c.RedirectURIs),
		PostLogoutRedirectURIs: list(c.PostLogoutRedirectURIs), GrantTypes: list(c.GrantTypes),
		Scope: strings.Join(c.Scopes, " "), Audiences: list(c.Audiences), BackchannelLogoutURI: c.BackchannelLogoutURI,
		RequirePAR: c.RequirePAR, AccessTokenTTL: int64(c.AccessTokenTTL / time.Second),
		RefreshTokenTTL: int64(c.RefreshTokenTTL / time.Second), JWKS: rawJSON(c.JWKS), CreatedAt: c.CreatedAt.UTC()}
}

// Spec is what a registration asks for.
type Spec struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Public registers a client without a secret (a SPA, a native app, a
	// CLI): PKCE only, token endpoint authentication none.
	Public     bool
	FirstParty bool
	// GrantTypes defaults to authorization_code and refresh_token.
	GrantTypes []string
	// Scopes defaults to openid profile email offline_access.
	Scopes               []string
	Audiences            []string
	BackchannelLogoutURI string
	RequirePAR           bool
	// AuthMethod defaults to client_secret_basic (none for a public
	// client).
	AuthMethod string
	// AccessTokenTTL shortens the client's access tokens' lifetime below
	// the server's access_token_ttl (a longer one is capped at it: the
	// revocation feed protects one server lifetime). RefreshTokenTTL
	// shortens the absolute lifetime of the client's sessions, and so of
	// its refresh tokens, below session_lifetime. Zero keeps the server's;
	// at least a second otherwise.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// JWKS is the client's public keys, a JWK Set as JSON (RFC 7591 §2),
	// required for private_key_jwt and refused otherwise.
	JWKS string
}

// DefaultScopes are the scopes of a client registered without any.
var DefaultScopes = []string{"openid", "profile", "email", "offline_access"}

// Recorder is what the registry needs of the engine (*session.Engine):
// the audit trail, where every registration, secret rotation, deletion
// and withdrawn consent is recorded with who did it, and the ending of
// the sessions a withdrawn consent leaves without a grant.
type Recorder interface {
	Record(ctx context.Context, ev store.AuditEvent, cl session.Client)
	EndClientSessions(ctx context.Context, userID, clientID, reason string, cl session.Client) (int, error)
}

// RegistryStore is the registry's storage: the clients, and the users'
// consents to them.
type RegistryStore interface {
	Clients
	Consents
}

// Registry registers OAuth clients and checks what they present, and
// keeps the users' consents to them. It is the one place the rules of a
// registration live: the admin API and the command line both register
// through it.
type Registry struct {
	st    RegistryStore
	audit Recorder
	clock clock.Clock
}

// NewRegistry returns a Registry over st, recording to audit.
func NewRegistry(st RegistryStore, audit Recorder, clk clock.Clock) *Registry {
	return &Registry{st: st, audit: audit, clock: clk}
}

// record writes the audit event of a change made to the client.
func (r *Registry) record(ctx context.Context, actor session.Actor, typ, clientID string) {
	r.audit.Record(ctx, store.AuditEvent{Type: typ, ActorID: actor.ID, Outcome: "success", Detail: "client " + clientID}, actor.Client)
}

// Add validates spec and registers the client under a new random id. For
// a confidential client it returns the secret, which is stored only as
// its hash and shown only now.
func (r *Registry) Add(ctx context.Context, actor session.Actor, spec Spec) (store.Client, string, error) {
	c, err := validate(spec)
	if err != nil {
		return store.Client{}, "", err
	}
	c.ID = newClientID()
	now := r.clock.Now()
	c.CreatedAt, c.UpdatedAt = now, now
	var secret string
	if !c.Public && c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		secret = newSecret()
		c.SecretHash = hashSecret(secret)
	}
	if err := r.st.CreateClient(ctx, c); err != nil {
		return store.Client{}, "", fmt.Errorf("provider: register client: %w", err)
	}
	r.record(ctx, actor, "client_registered", c.ID)
	return c, secret, nil
}

// Get returns the client, or ErrUnknownClient.
func (r *Registry) Get(ctx context.Context, id string) (store.Client, error) {
	c, err := r.st.ClientByID(ctx, id)
	return c, unknown(err)
}

// List returns every client, ordered by id.
func (r *Registry) List(ctx context.Context) ([]store.Client, error) { return r.st.ListClients(ctx) }

// RotateSecret gives a confidential client a new secret, returned only
// now; the old one stops working at once. ErrPublicClient for a public
// client, ErrUnknownClient for an unknown one.
func (r *Registry) RotateSecret(ctx context.Context, actor session.Actor, id string) (string, error) {
	secret := newSecret()
	_, err := r.st.UpdateClient(ctx, id, func(c *store.Client) error {
		if c.Public {
			return ErrPublicClient
		}
		if c.TokenEndpointAuthMethod == AuthPrivateKeyJWT {
			return ErrKeyClient
		}
		c.SecretHash, c.UpdatedAt = hashSecret(secret), r.clock.Now()
		return nil
	})
	if err != nil {
		return "", unknown(err)
	}
	r.record(ctx, actor, "client_secret_rotated", id)
	return secret, nil
}

// Delete removes the client; ErrUnknownClient if there is none.
func (r *Registry) Delete(ctx context.Context, actor session.Actor, id string) error {
	if err := r.st.DeleteClient(ctx, id); err != nil {
		return unknown(err)
	}
	r.record(ctx, actor, "client_deleted", id)
	return nil
}

// CheckSecret reports whether secret is the client's, in constant time:
// both sides are SHA-256 hashes, so neither the time nor a length
// mismatch says anything about the secret. A public client has none.
func CheckSecret(c store.Client, secret string) bool {
	if c.Public || len(c.SecretHash) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(hashSecret(secret), c.SecretHash) == 1
}

// MatchRedirect reports whether uri is one of the client's registered
// redirect URIs: an exact string match (RFC 9700 §2.1; no wildcards, no
// prefix, no normalisation), except that for a loopback IP literal over
// http the port may differ, since a native app picks a free port when it
// runs (RFC 8252 §7.3).
func MatchRedirect(c store.Client, uri string) bool {
	return matchURI(c.RedirectURIs, uri)
}

// MatchPostLogoutRedirect is MatchRedirect for post_logout_redirect_uri
// (OpenID RP-Initiated Logout 1.0 §3).
func MatchPostLogoutRedirect(c store.Client, uri string) bool {
	return matchURI(c.PostLogoutRedirectURIs, uri)
}

func matchURI(registered []string, uri string) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || !loopbackIP(u.Hostname()) {
		return false
	}
	for _, reg := range registered {
		ru, err := url.Parse(reg)
		if err != nil || ru.Scheme != "http" || !loopbackIP(ru.Hostname()) {
			continue
		}
		// Everything but the port, exactly as registered.
		if ru.Hostname() == u.Hostname() && ru.EscapedPath() == u.EscapedPath() && ru.RawQuery == u.RawQuery &&
			ru.User == nil && u.User == nil && u.Fragment == "" && !strings.Contains(uri, "#") {
			return true
		}
	}
	return false
}

// loopbackIP reports whether host is 127.0.0.1 or ::1, the literals RFC
// 8252 §7.3 names ("localhost" is not one: §8.3).
func loopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validate(s Spec) (store.Client, error) {
	bad := func(format string, a ...any) (store.Client, error) {
		return store.Client{}, fmt.Errorf("%w: %s", ErrInvalidMetadata, fmt.Sprintf(format, a...))
	}
	name := strings.TrimSpace(s.Name)
	if name == "" || len(name) > 200 || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return bad("client_name must be 1 to 200 bytes of text")
	}
	c := store.Client{Name: name, Public: s.Public, FirstParty: s.FirstParty, RequirePAR: s.RequirePAR,
		BackchannelLogoutURI: s.BackchannelLogoutURI, AccessTokenTTL: s.AccessTokenTTL, RefreshTokenTTL: s.RefreshTokenTTL}

	c.GrantTypes = dedupe(s.GrantTypes)
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	for _, g := range c.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken:
		case GrantClientCredentials:
			if s.Public {
				return bad("a public client cannot use client_credentials: it has no credentials")
			}
		default:
			return bad("grant type %q is not supported (authorization_code, refresh_token, client_credentials)", g)
		}
	}
	if slices.Contains(c.GrantTypes, GrantRefreshToken) && !slices.Contains(c.GrantTypes, GrantAuthorizationCode) {
		return bad("refresh_token needs authorization_code: refresh tokens are issued only with a code")
	}

	c.TokenEndpointAuthMethod = s.AuthMethod
	switch {
	case s.Public && (c.TokenEndpointAuthMethod == "" || c.TokenEndpointAuthMethod == AuthNone):
		c.TokenEndpointAuthMethod = AuthNone
	case s.Public:
		return bad("a public client authenticates with none, not %q", s.AuthMethod)
	case c.TokenEndpointAuthMethod == "":
		c.TokenEndpointAuthMethod = AuthSecretBasic
	case c.TokenEndpointAuthMethod == AuthSecretBasic, c.TokenEndpointAuthMethod == AuthSecretPost, c.TokenEndpointAuthMethod == AuthPrivateKeyJWT:
	default:
		return bad("token_endpoint_auth_method %q is not supported", s.AuthMethod)
	}

	c.RedirectURIs = dedupe(s.RedirectURIs)
	if slices.Contains(c.GrantTypes, GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return bad("authorization_code needs at least one redirect_uri")
	}
	for _, u := range c.RedirectURIs {
		if err := checkRedirect(u); err != nil {
			return bad("redirect_uri %q: %v", u, err)
		}
	}
	c.PostLogoutRedirectURIs = dedupe(s.PostLogoutRedirectURIs)
	for _, u := range c.PostLogoutRedirectURIs {
		if err := checkRedirect(u); err != nil {
			return bad("post_logout_redirect_uri %q: %v", u, err)
		}
	}
	if c.BackchannelLogoutURI != "" {
		if err := checkWebURI(c.BackchannelLogoutURI); err != nil {
			return bad("backchannel_logout_uri %q: %v", c.BackchannelLogoutURI, err)
		}
	}

	c.Scopes = dedupe(s.Scopes)
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(DefaultScopes)
	}
	for _, sc := range c.Scopes {
		if !scopeToken(sc) {
			return bad("scope %q is not an RFC 6749 §3.3 scope token", sc)
		}
	}
	c.Audiences = dedupe(s.Audiences)
	for _, a := range c.Audiences {
		u, err := url.Parse(a)
		if err != nil || !u.IsAbs() || u.Fragment != "" || len(a) > 200 {
			return bad("audience %q is not an absolute URI without a fragment (RFC 8707 §2), at most 200 bytes", a)
		}
	}
	if c.TokenEndpointAuthMethod == AuthPrivateKeyJWT {
		set, err := ParseClientKeys(s.JWKS)
		if err != nil {
			return bad("jwks: %v", err)
		}
		b, _ := json.Marshal(set) // a parsed public key set marshals
		c.JWKS = string(b)
	} else if s.JWKS != "" {
		return bad("jwks is for private_key_jwt clients only")
	}
	for _, d := range []time.Duration{c.AccessTokenTTL, c.RefreshTokenTTL} {
		if d < 0 || (d > 0 && d < time.Second) || d%time.Second != 0 {
			return bad("token lifetimes are whole seconds, at least one (or zero: the server's)")
		}
	}
	return c, nil
}

// checkRedirect applies the registration rules for a redirect URI: an
// absolute URI without a fragment (RFC 6749 §3.1.2) and without wildcards
// (RFC 9700 §2.1), over https, or http only to a loopback host (RFC 8252
// §7.3, RFC 9700 §2.6), or a private-use scheme of reverse-domain form for
// a native app (RFC 8252 §7.1).
func checkRedirect(raw string) error {
	if len(raw) > 2000 {
		return errors.New("longer than 2000 bytes")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs():
		return errors.New("not an absolute URI")
	case strings.Contains(raw, "#"):
		return errors.New("has a fragment (RFC 6749 §3.1.2)")
	case strings.Contains(raw, "*"):
		return errors.New("wildcards are not allowed (RFC 9700 §2.1)")
	case u.User != nil:
		return errors.New("has userinfo")
	}
	switch u.Scheme {
	case "https", "http":
		return checkWebURI(raw)
	case "javascript", "data", "file", "vbscript", "blob":
		return fmt.Errorf("scheme %s is not allowed", u.Scheme)
	}
	// RFC 8252 §7.1: a private-use scheme based on a domain name the app
	// controls, in reverse order (com.example.app:/callback).
	if !strings.Contains(u.Scheme, ".") {
		return errors.New("a private-use scheme must be a reversed domain name (RFC 8252 §7.1)")
	}
	return nil
}

// checkWebURI allows https, and http only to a loopback host.
func checkWebURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("not an absolute URI with a host")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); loopbackIP(h) || h == "localhost" {
			return nil
		}
		return errors.New("http is allowed only to a loopback host (RFC 9700 §2.6)")
	}
	return fmt.Errorf("scheme %s is not https", u.Scheme)
}

// scopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func scopeToken(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// newClientID is a random, URL-safe client id. Client ids are public
// (RFC 6749 §2.2), so randomness keeps them unguessable only as a courtesy.
func newClientID() string { return strings.ToLower(rand.Text()) }

// newSecret is a client secret of 260 bits: two rand.Text values.
func newSecret() string { return rand.Text() + rand.Text() }

// hashSecret is the form a secret is stored in. The secret is random and
// of 260 bits, so a fast hash is enough (no password-grade KDF needed,
// RFC 6819 §5.1.4.1.3 asks for hashing; brute force of 2^260 is not on).
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// rawJSON is s as a JSON value, or nil for "".
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// maxClientKeys bounds a client's key set: a few keys for rotation.
const maxClientKeys = 8

// ParseClientKeys parses a private_key_jwt client's keys: a JWK Set (RFC
// 7517 §5) of at most maxClientKeys public signing keys, each RSA of 2048
// bits or more, EC P-256 or Ed25519, with distinct kids when there are
// several. A private key is refused: it must never be registered.
func ParseClientKeys(raw string) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if len(raw) == 0 || len(raw) > 16<<10 {
		return set, errors.New("a JWK Set of at most 16 KiB is required")
	}
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		return set, fmt.Errorf("not a JWK Set: %v", err)
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxClientKeys {
		return set, fmt.Errorf("1 to %d keys", maxClientKeys)
	}
	kids := map[string]bool{}
	for i, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return set, fmt.Errorf("key %d is not a valid public key", i)
		}
		if k.Use != "" && k.Use != "sig" {
			return set, fmt.Errorf("key %d is not for signatures (use %q)", i, k.Use)
		}
		switch pk := k.Key.(type) {
		case *rsa.PublicKey:
			if pk.N.BitLen() < 2048 {
				return set, fmt.Errorf("key %d: RSA keys have at least 2048 bits", i)
			}
		case *ecdsa.PublicKey:
			if pk.Curve != elliptic.P256() {
				return set, fmt.Errorf("key %d: EC keys are P-256", i)
			}
		case ed25519.PublicKey:
		default:
			return set, fmt.Errorf("key %d: %T keys are not supported (RSA, EC P-256, Ed25519)", i, k.Key)
		}
		if len(set.Keys) > 1 && (k.KeyID == "" || kids[k.KeyID]) {
			return set, errors.New("several keys need distinct kids")
		}
		kids[k.KeyID] = true
	}
	return set, nil
}
