// Package provider is Gatehouse's OAuth 2.0 authorization server and
// OpenID Connect provider, on the same session engine as the first-party
// API: every token it issues belongs to a session in the registry.
//
// This file declares what the provider needs of the store; registry.go is
// the client registry.
package provider

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

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
