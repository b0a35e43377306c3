package guardkeys_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// TestFromKeyring: the source answers with the keyring's published keys,
// refuses an unknown kid with guard.ErrKeyNotFound, and finds a key
// another process has just added without waiting for the periodic reload.
func TestFromKeyring(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.NewFake(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	server := token.NewKeyring(db, clk, 6*time.Minute, 10*time.Second)
	if err := server.Ensure(ctx, token.ES256); err != nil {
		t.Fatal(err)
	}
	src := guardkeys.FromKeyring(server)

	signing, err := server.Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k, err := src.Key(ctx, signing.KID)
	if err != nil || k.ID != signing.KID || k.Alg != token.ES256 || k.Public == nil {
		t.Fatalf("Key = %+v, %v", k, err)
	}
	if _, err := src.Key(ctx, "made-up"); !errors.Is(err, guard.ErrKeyNotFound) {
		t.Fatalf("unknown kid: %v, want ErrKeyNotFound", err)
	}

	// The command line, another process, adds an EdDSA key.
	cli := token.NewKeyring(db, clk, 6*time.Minute, 10*time.Second)
	added, err := cli.Rotate(ctx, token.EdDSA, 0)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second) // past the one-reload-per-second bound, well before the 10s reload
	k, err = src.Key(ctx, added.KID)
	if err != nil || k.Alg != token.EdDSA {
		t.Fatalf("key added by another process: %+v, %v", k, err)
	}
}
