package token_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

const ttl = sessiontest.AccessTTL

type fixture struct {
	clock  *clock.Fake
	keys   *token.Keyring
	issuer *token.Issuer
	guard  *guard.Guard
	db     app.Database
}

func newFixture(t testing.TB, alg string) *fixture {
	t.Helper()
	f := sessiontest.New(t, sessiontest.Options{Alg: alg})
	return &fixture{clock: f.Clock, keys: f.Keys, issuer: f.Issuer, guard: f.Guard, db: f.DB}
}

var subject = token.Subject{UserID: "u1", Username: "alice", SessionID: "s1", ClientID: "gatehouse",
	AuthTime: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Roles: []string{"reader"}}

// TestRoundTripEveryAlgorithm: a token issued with each algorithm verifies
// through the guard over this keyring, as the server verifies it, with the
// subject's claims intact. (The guard's own tests hold the rejection
// table, guard/verify_test.go.)
func TestRoundTripEveryAlgorithm(t *testing.T) {
	for _, alg := range token.Algorithms {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			s := subject
			s.Scope = "api read"
			raw, jti, exp, err := f.issuer.Issue(t.Context(), s)
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.guard.Verify(t.Context(), raw)
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != "u1" || p.Username != "alice" || p.SessionID != "s1" || p.ClientID != "gatehouse" ||
				p.TokenID != jti || !p.ExpiresAt.Equal(exp) || !p.AuthTime.Equal(subject.AuthTime) ||
				!p.HasRole("reader") || !p.HasScope("api") || !p.HasScope("read") {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}

// TestRetiredKeyStopsVerifying: once a retired key's tokens have all
// expired it is unpublished, so Lookup no longer finds it for a verifier,
// and the next rotation deletes it from storage.
func TestRetiredKeyStopsVerifying(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, token.ES256)
	old, err := f.keys.Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Rotate(ctx, token.ES256, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Lookup(ctx, old.KID); err != nil {
		t.Fatalf("the just-retired key: %v", err)
	}
	f.clock.Advance(ttl + 31*time.Second)
	if _, err := f.keys.Lookup(ctx, old.KID); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("an unpublished key: %v, want ErrUnknownKey", err)
	}
	if _, err := f.keys.Rotate(ctx, token.ES256, 0); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.db.SigningKeys(ctx)
	if len(stored) != 2 {
		t.Fatalf("%d keys stored after pruning, want 2", len(stored))
	}
}
