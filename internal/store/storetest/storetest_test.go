package storetest_test

import (
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// The suite's Store must cover everything the engine, the keyring, the
// revocation hub and the provider ask of storage, so that a method added there cannot
// escape the suite, and so every backend, which each assert that they
// implement Store, covers it too.
var _ interface {
	session.Store
	token.KeyStore
	revocation.Store
	provider.Clients
	provider.Codes
	provider.PushedRequests
	provider.Consents
	provider.LogoutNotices
} = storetest.Store(nil)
