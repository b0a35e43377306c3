package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/limiter/limitertest"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

// DB is the limiter's shared Store; the backend does not import the
// limiter, so the check is here.
var _ limiter.Store = (*DB)(nil)

// TestSharedLimiter: the limiter's scenarios with two nodes, each its own
// limiter and connection pool, over one database: failures through either
// count on both.
func TestSharedLimiter(t *testing.T) {
	pgtest.Require(t)
	limitertest.Run(t, func(t *testing.T, c limiter.Config) (a, b *limiter.Limiter) {
		dsn := pgtest.Schema(t)
		return limiter.NewShared(c, mustOpen(t, dsn)), limiter.NewShared(c, mustOpen(t, dsn))
	})
}

// TestLoginFailureFacts: the store methods report what they recorded.
func TestLoginFailureFacts(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, pgtest.Schema(t))
	t0 := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	const idle = 2 * time.Hour

	f, err := db.LoginFailures(ctx, "alice", "ip1", t0.Add(-time.Hour))
	if err != nil || f != (store.LoginFacts{}) {
		t.Fatalf("nothing recorded: %+v, %v", f, err)
	}
	record := func(ip string, at time.Time) store.LoginFacts {
		t.Helper()
		f, err := db.RecordLoginFailure(ctx, "alice", ip, at, at.Add(-idle), at.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	record("ip1", t0)
	record("ip2", t0.Add(time.Second))
	got := record("ip1", t0.Add(2*time.Second))
	want := store.LoginFacts{Pair: store.LoginPairFacts{Failures: 2, Last: t0.Add(2 * time.Second)},
		Account: store.LoginAccountFacts{Failures: 3, Oldest: t0}}
	if got != want {
		t.Errorf("after three failures: %+v, want %+v", got, want)
	}
	if f, err := db.LoginFailures(ctx, "alice", "ip1", t0.Add(2*time.Second-time.Hour)); err != nil || f != want {
		t.Errorf("LoginFailures = %+v, %v; want %+v", f, err, want)
	}
	// The hour moves on: the first failure leaves it, exactly.
	f, _ = db.LoginFailures(ctx, "alice", "ip2", t0)
	if want := (store.LoginAccountFacts{Failures: 2, Oldest: t0.Add(time.Second)}); f.Account != want {
		t.Errorf("an hour later: account %+v, want %+v", f.Account, want)
	}
	// A success ends the pair's run, not the account's count.
	if err := db.ClearLoginPair(ctx, "alice", "ip1"); err != nil {
		t.Fatal(err)
	}
	f, _ = db.LoginFailures(ctx, "alice", "ip1", t0.Add(-time.Hour))
	if f.Pair != (store.LoginPairFacts{}) || f.Account.Failures != 3 {
		t.Errorf("after a success: %+v", f)
	}
	// A run idle too long starts over; one that is not goes on.
	if f := record("ip2", t0.Add(idle+2*time.Second)); f.Pair.Failures != 1 {
		t.Errorf("after an idle spell: pair %+v, want a run of one", f.Pair)
	}
	if f := record("ip2", t0.Add(idle+3*time.Second)); f.Pair.Failures != 2 {
		t.Errorf("next failure: pair %+v, want 2", f.Pair)
	}
	// Prune deletes what is stale: the three failures at t0, and no pair.
	if n, err := db.PruneLoginFailures(ctx, t0.Add(idle+3*time.Second-idle), t0.Add(idle+3*time.Second-time.Hour)); err != nil || n != 3 {
		t.Errorf("PruneLoginFailures = %d, %v; want 3", n, err)
	}
	if f, _ := db.LoginFailures(ctx, "alice", "ip2", t0.Add(idle)); f.Pair.Failures != 2 || f.Account.Failures != 2 {
		t.Errorf("after pruning: %+v", f)
	}
}

// TestLoginFailuresConcurrent: failures of one pair recorded at once from
// many connections are all counted, and each threshold is reported by
// exactly one of them.
func TestLoginFailuresConcurrent(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	c := limiter.Config{IPRate: 1e6, IPBurst: 1e6, FreeFailures: 3, LockAfter: 10, AccountFailuresPerHour: 100}
	nodes := []*limiter.Limiter{limiter.NewShared(c, mustOpen(t, dsn)), limiter.NewShared(c, mustOpen(t, dsn))}
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		tripped = map[limiter.Reason]int{}
	)
	for i := range n {
		wg.Go(func() {
			why, err := nodes[i%2].Failure(ctx, "ip", "alice", now)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			tripped[why]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if tripped[limiter.ReasonBackoff] != 1 || tripped[limiter.ReasonLocked] != 1 {
		t.Errorf("trips %v: want one back-off and one lock", tripped)
	}
	facts, err := mustOpen(t, dsn).LoginFailures(ctx, "alice", "ip", now.Add(-time.Hour))
	if err != nil || facts.Pair.Failures != n || facts.Account.Failures != n {
		t.Errorf("after %d concurrent failures: %+v, %v", n, facts, err)
	}
}

// TestSharedLimiterFailsClosed: when the database does not answer, Allow
// refuses with store.ErrUnavailable (the server's 503) rather than
// allowing; with it gone, Allow refuses and Failure and Success report it.
func TestSharedLimiterFailsClosed(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, pgtest.Schema(t))
	l := limiter.NewShared(limiter.Config{}, db)
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	late, cancel := context.WithDeadline(ctx, now) // long past
	defer cancel()
	if ok, _, _, err := l.Allow(late, "ip", "alice", now); ok || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Allow past its deadline: ok=%v err=%v; want refused with store.ErrUnavailable", ok, err)
	}
	db.Close()
	if ok, _, _, err := l.Allow(ctx, "ip", "alice", now); ok || err == nil {
		t.Errorf("Allow with the database closed: ok=%v err=%v; want refused with an error", ok, err)
	}
	if _, err := l.Failure(ctx, "ip", "alice", now); err == nil {
		t.Error("Failure with the database closed: no error")
	}
	if err := l.Success(ctx, "ip", "alice", now); err == nil {
		t.Error("Success with the database closed: no error")
	}
}
