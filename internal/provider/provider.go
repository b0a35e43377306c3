// Package provider is Gatehouse's OAuth 2.0 authorization server and
// OpenID Connect provider, on the same session engine as the first-party
// API: every token it issues belongs to a session in the registry.
//
// The protocol layer is github.com/zitadel/oidc/v3's op: its web server
// parses every request of the token, introspection, revocation, userinfo
// and end-session endpoints, authenticates the client's credentials and
// writes RFC 6749 errors; Provider implements its op.Server interface on
// the engine. What op leaves out is written here and named in
// docs/provider.md: the authorization endpoint's login and consent pages,
// pushed authorization requests (RFC 9126), the iss of every
// authorization response (RFC 9207) and back-channel logout.
//
// This file declares what the provider needs of the engine, the keys and
// the store; registry.go is the client registry.
package provider

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// Sessions is what the provider needs of the engine (*session.Engine):
// every session it starts, refreshes or ends is a session of the one
// registry.
type Sessions interface {
	Authenticate(ctx context.Context, username, pw string, cl session.Client) (store.User, error)
	Start(ctx context.Context, gr session.Grantee, u store.User, authTime time.Time, cl session.Client) (*session.Grant, error)
	RefreshFor(ctx context.Context, clientID, presented string, cl session.Client) (*session.Grant, error)
	SessionOfRefreshToken(ctx context.Context, presented string) (store.Session, error)
	CurrentRefreshToken(ctx context.Context, presented string) (store.Session, error)
	Live(ctx context.Context, sid string) (store.Session, error)
	Logout(ctx context.Context, s store.Session, cl session.Client) error
	EndSession(ctx context.Context, sid, reason string, cl session.Client) error
	UserByID(ctx context.Context, id string) (store.User, error)
	// FirstParty is the first-party login API's grantee: its client id
	// names the built-in client of the token endpoint.
	FirstParty() session.Grantee
}

// Keys finds a signing key, the one that signs now or the one a token
// names (*token.Keyring).
type Keys interface {
	Signing(ctx context.Context) (*token.Key, error)
	Lookup(ctx context.Context, kid string) (*token.Key, error)
}

// Minter signs access tokens that belong to no session of a user: the
// client_credentials grant's (*token.Issuer).
type Minter interface {
	Issue(ctx context.Context, s token.Subject) (raw, jti string, exp time.Time, err error)
	TTL() time.Duration
}

// ClientAssertions remembers the private_key_jwt assertions clients have
// used, so that each is used once (RFC 7523 §3, OpenID Connect Core §9).
type ClientAssertions interface {
	// UseClientAssertion records the client's assertion id (the SHA-256
	// of its jti) until expires, in one atomic step on any node;
	// store.ErrAlreadySpent if the client used it before.
	UseClientAssertion(ctx context.Context, clientID string, jtiHash []byte, expires time.Time) error
	// PruneClientAssertions deletes the ids that expired before t.
	PruneClientAssertions(ctx context.Context, t time.Time) (int, error)
}

// Store is the provider's storage: the registry's clients, codes, pushed
// requests, consents and used client assertions.
type Store interface {
	Clients
	Codes
	PushedRequests
	Consents
	ClientAssertions
}

// Client is a registered OAuth 2.0 client, as the store keeps it.
type Client = store.Client

// Clients is the client registry's storage. Every backend is held to
// this contract by the conformance suite (storetest).
type Clients interface {
	// CreateClient stores c; store.ErrConflict if its id is taken.
	CreateClient(ctx context.Context, c store.Client) error
	// ClientByID returns the client, or store.ErrNotFound.
	ClientByID(ctx context.Context, id string) (store.Client, error)
	// ListClients returns every client, ordered by id.
	ListClients(ctx context.Context) ([]store.Client, error)
	// UpdateClient reads the client, applies fn and writes the result, in
	// one transaction; store.ErrNotFound if there is no such client, and
	// fn's error, unchanged, if fn fails (nothing is written then). The
	// id and CreatedAt cannot be changed.
	UpdateClient(ctx context.Context, id string, fn func(*store.Client) error) (store.Client, error)
	// DeleteClient removes the client; store.ErrNotFound if there is none.
	DeleteClient(ctx context.Context, id string) error
}

// Codes is the storage of authorization codes. Every backend is held to
// this contract by the conformance suite, on PostgreSQL across
// connections as several nodes would use it.
type Codes interface {
	// CreateCode stores c; store.ErrConflict if its hash is taken.
	CreateCode(ctx context.Context, c store.AuthCode) error
	// RedeemCode marks the code redeemed at now and returns it, in one
	// atomic step: of any number of concurrent calls, on any node, exactly
	// one gets it with a nil error. store.ErrNotFound if there is no such
	// code; store.ErrAlreadySpent, with the code, if it was redeemed
	// before (a replay: its tokens are to be revoked, RFC 6749 §4.1.2).
	// An expired code is returned as it is; refusing it is the caller's.
	RedeemCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error)
	// PruneCodes deletes codes that expired before t, and reports how many.
	PruneCodes(ctx context.Context, t time.Time) (int, error)
}

// PushedRequests is the storage of pushed authorization requests.
type PushedRequests interface {
	// CreatePushedRequest stores p; store.ErrConflict if its hash is taken.
	CreatePushedRequest(ctx context.Context, p store.PushedRequest) error
	// TakePushedRequest deletes the request and returns it, in one atomic
	// step (a request_uri is used once, RFC 9126 §4); store.ErrNotFound if
	// there is none. An expired one is returned as it is.
	TakePushedRequest(ctx context.Context, hash []byte) (store.PushedRequest, error)
	// PrunePushedRequests deletes requests that expired before t.
	PrunePushedRequests(ctx context.Context, t time.Time) (int, error)
}

// Consents is the storage of remembered consents.
type Consents interface {
	// PutConsent records c, replacing the user's consent for the client.
	PutConsent(ctx context.Context, c store.Consent) error
	// Consent returns the user's consent for the client, or
	// store.ErrNotFound.
	Consent(ctx context.Context, userID, clientID string) (store.Consent, error)
	// Consents returns the user's consents, ordered by client id.
	Consents(ctx context.Context, userID string) ([]store.Consent, error)
	// DeleteConsent removes the user's consent for the client;
	// store.ErrNotFound if there is none.
	DeleteConsent(ctx context.Context, userID, clientID string) error
}
