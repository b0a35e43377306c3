// Package provider is Gatehouse's OAuth 2.0 authorization server and
// OpenID Connect provider, on the same session engine as the first-party
// API: every token it issues belongs to a session in the registry.
//
// This file declares what the provider needs of the store; registry.go is
// the client registry.
package provider

import (
	"context"

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
