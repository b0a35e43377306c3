package app

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/csrf"
	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// TestCSRFKeyUnderKEK: with key_encryption_key the CSRF key is no longer
// the stored secret itself, and a KEK rotation (previous key configured)
// keeps tokens minted before it valid.
func TestCSRFKeyUnderKEK(t *testing.T) {
	secret := bytes.Repeat([]byte{3}, 32)
	kek1, kek2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	plain := newCSRF(secret, config.Resolved{})
	if tok := plain.Mint("s"); !csrf.New(secret).Valid("s", tok) {
		t.Fatal("without a KEK the stored secret must be the key")
	}
	sealed := newCSRF(secret, config.Resolved{KEK: kek1})
	tok := sealed.Mint("s")
	if csrf.New(secret).Valid("s", tok) {
		t.Fatal("with a KEK, the stored secret alone validates tokens")
	}
	rotating := newCSRF(secret, config.Resolved{KEK: kek2, PreviousKEK: kek1})
	if !rotating.Valid("s", tok) {
		t.Fatal("a token minted under the previous KEK is refused during the rotation")
	}
	if newCSRF(secret, config.Resolved{KEK: kek2}).Valid("s", tok) {
		t.Fatal("a token minted under a KEK no longer configured is accepted")
	}
}

// TestFeedMaxLagCoversPolls: the in-process guard never fails closed
// between two polls of a quiet hub, whatever revocation_poll_interval the
// configuration allows.
func TestFeedMaxLagCoversPolls(t *testing.T) {
	for _, poll := range []time.Duration{10 * time.Millisecond, 200 * time.Millisecond, 10 * time.Second, 30 * time.Second, time.Minute} {
		if lag := feedMaxLag(poll); lag < 2*poll || lag < revset.DefaultMaxLag {
			t.Errorf("poll %v: feed max lag %v does not cover two polls and the guard's default", poll, lag)
		}
	}
}

// TestLimiterSharedOnPostgres: two nodes on one PostgreSQL database share
// the account limits (a back-off earned on one holds on the other), while
// on SQLite the limiter counts in the process: whichever limits store
// openStore returns for the backend.
func TestLimiterSharedOnPostgres(t *testing.T) {
	ctx := context.Background()
	ll := config.Default().LoginLimits
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

	cfg := config.Config{Database: pgtest.Schema(t)}
	var nodes []*limiter.Limiter
	for range 2 {
		db, limits, err := openStore(ctx, cfg, true, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes = append(nodes, newLimiter(ll, limits))
	}
	for range ll.FreeFailures {
		if _, err := nodes[0].Failure(ctx, "192.0.2.1", "alice", now); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _, why, err := nodes[1].Allow(ctx, "192.0.2.1", "alice", now); ok || err != nil || why != limiter.ReasonBackoff {
		t.Errorf("the other node after %d failures: ok=%v why=%q err=%v; want backoff", ll.FreeFailures, ok, why, err)
	}

	db, limits, err := openStore(ctx, config.Config{Data: t.TempDir()}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := newLimiter(ll, limits)
	if _, err := l.Failure(ctx, "192.0.2.1", "alice", now); err != nil {
		t.Fatal(err)
	}
	if l.Tracked() == 0 {
		t.Error("the SQLite node's limiter does not count in memory")
	}
}

// TestConfigAgreesWithParts: config is plain data, importing none of the
// packages its values are for, yet it refuses a bad value when the
// configuration is resolved. The few rules it repeats to do so are held
// here, where the values are converted, to the packages that own them.
func TestConfigAgreesWithParts(t *testing.T) {
	d := config.Default()
	if !slices.Equal(config.SigningAlgorithms, token.Algorithms) {
		t.Errorf("config.SigningAlgorithms = %v, token.Algorithms = %v", config.SigningAlgorithms, token.Algorithms)
	}
	if d.SigningAlg != token.ES256 {
		t.Errorf("default signing_alg %q, want token.ES256", d.SigningAlg)
	}
	if d.IDTokenSigningAlg != token.RS256 {
		t.Errorf("default id_token_signing_alg %q, want token.RS256", d.IDTokenSigningAlg)
	}
	if config.KEKSize != token.KEKSize {
		t.Errorf("config.KEKSize = %d, token.KEKSize = %d", config.KEKSize, token.KEKSize)
	}
	if got := password.Params(d.Argon2); got != password.DefaultParams {
		t.Errorf("default argon2 %+v, want password.DefaultParams %+v", got, password.DefaultParams)
	}
	// Either side of every floor and ceiling: the same verdict, in the
	// same words.
	floor := d.Argon2
	for _, a := range []config.Argon2{
		floor,
		{},
		{MemoryKiB: floor.MemoryKiB - 1, Iterations: floor.Iterations, Parallelism: floor.Parallelism},
		{MemoryKiB: floor.MemoryKiB, Iterations: floor.Iterations - 1, Parallelism: floor.Parallelism},
		{MemoryKiB: floor.MemoryKiB, Iterations: floor.Iterations, Parallelism: 0},
		{MemoryKiB: 4 << 20, Iterations: 64, Parallelism: math.MaxUint8},
		{MemoryKiB: 4<<20 + 1, Iterations: floor.Iterations, Parallelism: 1},
		{MemoryKiB: floor.MemoryKiB, Iterations: 65, Parallelism: 1},
		{MemoryKiB: math.MaxUint32, Iterations: math.MaxUint32, Parallelism: math.MaxUint8},
		{MemoryKiB: 64, Iterations: 1000, Parallelism: 1},
	} {
		got, want := fmt.Sprint(a.Validate()), fmt.Sprint(password.Params(a).Validate())
		if got != want {
			t.Errorf("%+v: config says %s, password says %s", a, got, want)
		}
	}
}
