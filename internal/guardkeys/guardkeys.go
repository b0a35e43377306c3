// Package guardkeys lets a guard verify with the keyring's keys directly.
//
// Gatehouse's own endpoints, the demo app and the tests verify access
// tokens with the same guard a resource server uses; in this process the
// keys need no JWKS fetch, since the keyring that signs holds them. The
// adapter lives in a package of its own because token must not import
// guard (guard's tests import token) and both the server wiring and the
// test fixtures need it.
package guardkeys

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// FromKeyring returns a guard.KeySource over the keyring's published keys:
// the same keys as the JWKS, without an HTTP round trip to ourselves. An
// unknown kid costs at most one store read per second (token.Keyring.Lookup),
// so a kid made up by an attacker is cheap, while a key another process
// has just added is found at once.
func FromKeyring(k *token.Keyring) guard.KeySource { return keyring{k} }

type keyring struct{ keys *token.Keyring }

func (s keyring) Key(ctx context.Context, kid string) (guard.Key, error) {
	k, err := s.keys.Lookup(ctx, kid)
	switch {
	case errors.Is(err, token.ErrUnknownKey):
		return guard.Key{}, fmt.Errorf("%w: %w", guard.ErrKeyNotFound, err)
	case err != nil:
		return guard.Key{}, fmt.Errorf("signing keys: %w", err)
	}
	return guard.Key{ID: k.KID, Alg: k.Alg, Public: k.Public()}, nil
}
