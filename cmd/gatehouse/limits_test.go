package main

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

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
