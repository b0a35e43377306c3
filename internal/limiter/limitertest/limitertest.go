// Package limitertest is the behaviour every state of the login limiter
// must show: the same decisions from the same history, whether the
// failures are counted in one process's memory or in a store that several
// nodes share. Run it with two limiters over one state; for the
// in-memory limiter, one node is its own other node.
package limitertest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/limiter"
)

// Nodes returns two limiters with policy c over one state: two nodes of a
// cluster. Failures through either must count on both.
type Nodes func(t *testing.T, c limiter.Config) (a, b *limiter.Limiter)

// T0 is the scenarios' starting time, on a whole minute so that a state
// that counts per minute and one that keeps exact times agree to the
// nanosecond.
var T0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// Run runs every scenario.
func Run(t *testing.T, nodes Nodes) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Nodes)
	}{
		{"BackoffAndLockAcrossNodes", testBackoffAndLock},
		{"SuccessClearsPairOnBoth", testSuccessClearsPair},
		{"AccountCeilingAcrossNodes", testAccountCeiling},
		{"IdlePairStartsOver", testIdlePairStartsOver},
		{"PruneChangesNoDecision", testPrune},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, nodes) })
	}
}

// open lets the address buckets, which are per node and not what these
// scenarios test, take every attempt.
func open(c limiter.Config) limiter.Config {
	c.IPRate, c.IPBurst = 1e6, 1e6
	return c
}

var ctx = context.Background()

type decision struct {
	ok    bool
	retry time.Duration
	why   limiter.Reason
}

func allow(t *testing.T, l *limiter.Limiter, ip, acct string, now time.Time) decision {
	t.Helper()
	ok, retry, why, err := l.Allow(ctx, ip, acct, now)
	if err != nil {
		t.Fatalf("Allow(%s, %s): %v", ip, acct, err)
	}
	return decision{ok, retry, why}
}

func fail(t *testing.T, l *limiter.Limiter, ip, acct string, now time.Time) limiter.Reason {
	t.Helper()
	why, err := l.Failure(ctx, ip, acct, now)
	if err != nil {
		t.Fatalf("Failure(%s, %s): %v", ip, acct, err)
	}
	return why
}

func succeed(t *testing.T, l *limiter.Limiter, ip, acct string, now time.Time) {
	t.Helper()
	if err := l.Success(ctx, ip, acct, now); err != nil {
		t.Fatalf("Success(%s, %s): %v", ip, acct, err)
	}
}

// testBackoffAndLock: the failures of one pair, alternating between the
// nodes, add up to one back-off and one lock, seen by both; the lock is
// the pair's, not the account's or the address's.
func testBackoffAndLock(t *testing.T, nodes Nodes) {
	a, b := nodes(t, open(limiter.Config{FreeFailures: 3, BaseDelay: time.Second, MaxDelay: time.Minute,
		LockAfter: 6, LockFor: 15 * time.Minute}))
	node := []*limiter.Limiter{a, b}
	const attacker, user = "198.51.100.7", "203.0.113.5"
	steps := []struct {
		tripped limiter.Reason
		then    decision // on the other node, right after
	}{
		{"", decision{ok: true}},
		{"", decision{ok: true}},
		{limiter.ReasonBackoff, decision{false, time.Second, limiter.ReasonBackoff}},
		{"", decision{false, 2 * time.Second, limiter.ReasonBackoff}},
		{"", decision{false, 4 * time.Second, limiter.ReasonBackoff}},
		{limiter.ReasonLocked, decision{false, 15 * time.Minute, limiter.ReasonLocked}},
	}
	now := T0
	for i, s := range steps {
		this, other := node[i%2], node[(i+1)%2]
		if d := allow(t, this, attacker, "alice", now); !d.ok {
			t.Fatalf("failure %d: attempt refused: %+v", i+1, d)
		}
		if got := fail(t, this, attacker, "alice", now); got != s.tripped {
			t.Errorf("failure %d tripped %q, want %q", i+1, got, s.tripped)
		}
		if got := allow(t, other, attacker, "alice", now); got != s.then {
			t.Fatalf("after failure %d, the other node: %+v, want %+v", i+1, got, s.then)
		}
		now = now.Add(s.then.retry) // wait out exactly what was advertised
	}
	now = T0.Add(10 * time.Second) // well inside the lock
	for i, l := range node {
		if d := allow(t, l, attacker, "alice", now); d.why != limiter.ReasonLocked {
			t.Errorf("node %d: locked pair: %+v", i, d)
		}
		if d := allow(t, l, user, "alice", now); !d.ok {
			t.Errorf("node %d: the real user, elsewhere, refused: %+v", i, d)
		}
		if d := allow(t, l, attacker, "bob", now); !d.ok {
			t.Errorf("node %d: the lock leaked to another account: %+v", i, d)
		}
	}
}

// testSuccessClearsPair: a success on one node ends the pair's back-off
// on both, and the next failure starts a new run.
func testSuccessClearsPair(t *testing.T, nodes Nodes) {
	a, b := nodes(t, open(limiter.Config{FreeFailures: 2, BaseDelay: time.Minute}))
	fail(t, a, "ip", "alice", T0)
	fail(t, b, "ip", "alice", T0)
	for i, l := range []*limiter.Limiter{a, b} {
		if d := allow(t, l, "ip", "alice", T0); d.ok {
			t.Fatalf("node %d: no back-off after 2 failures", i)
		}
	}
	succeed(t, b, "ip", "alice", T0)
	for i, l := range []*limiter.Limiter{a, b} {
		if d := allow(t, l, "ip", "alice", T0); !d.ok {
			t.Errorf("node %d: still refused after a success: %+v", i, d)
		}
	}
	if got := fail(t, a, "ip", "alice", T0); got != "" {
		t.Errorf("first failure after a success tripped %q", got)
	}
	if d := allow(t, b, "ip", "alice", T0); !d.ok {
		t.Errorf("one failure after a success refused: %+v", d)
	}
}

// testAccountCeiling: failures from many addresses, through both nodes,
// meet one account-wide ceiling; a success does not reset it; it opens
// when the oldest failure leaves the hour, as advertised.
func testAccountCeiling(t *testing.T, nodes Nodes) {
	const ceiling = 5
	a, b := nodes(t, open(limiter.Config{AccountFailuresPerHour: ceiling}))
	node := []*limiter.Limiter{a, b}
	now := T0
	for i := range ceiling {
		ip := "10.0.0." + strconv.Itoa(i)
		if d := allow(t, node[i%2], ip, "alice", now); !d.ok {
			t.Fatalf("failure %d refused: %+v", i+1, d)
		}
		want := limiter.Reason("")
		if i == ceiling-1 {
			want = limiter.ReasonAccount
		}
		if got := fail(t, node[i%2], ip, "alice", now); got != want {
			t.Errorf("failure %d tripped %q, want %q", i+1, got, want)
		}
		now = now.Add(10 * time.Second)
	}
	succeed(t, a, "10.0.0.0", "alice", now) // the attacker's own login elsewhere
	want := decision{false, T0.Add(time.Hour).Sub(now), limiter.ReasonAccount}
	for i, l := range node {
		if d := allow(t, l, "192.0.2.1", "alice", now); d != want {
			t.Errorf("node %d, a fresh address over the ceiling: %+v, want %+v", i, d, want)
		}
		if d := allow(t, l, "192.0.2.1", "bob", now); !d.ok {
			t.Errorf("node %d: the ceiling leaked to another account: %+v", i, d)
		}
	}
	now = now.Add(want.retry)
	for i, l := range node {
		if d := allow(t, l, "192.0.2.1", "alice", now); !d.ok {
			t.Errorf("node %d: still closed after the advertised wait: %+v", i, d)
		}
	}
}

// testIdlePairStartsOver: a pair that keeps failing stays in its lock
// cycle, one guess per lock; one idle for longer than PairIdle starts
// again with its free failures.
func testIdlePairStartsOver(t *testing.T, nodes Nodes) {
	c := open(limiter.Config{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: time.Minute, LockAfter: 3, LockFor: 15 * time.Minute})
	a, b := nodes(t, c)
	now := T0
	for range 3 {
		fail(t, a, "ip", "alice", now)
	}
	for range 3 { // one guess per lock, for hours
		now = now.Add(15 * time.Minute)
		if d := allow(t, b, "ip", "alice", now); !d.ok {
			t.Fatalf("lock did not expire: %+v", d)
		}
		fail(t, b, "ip", "alice", now)
		if d := allow(t, a, "ip", "alice", now); d.why != limiter.ReasonLocked {
			t.Fatalf("a failure after a lock did not lock again: %+v", d)
		}
	}
	now = now.Add(b.Config().PairIdle() + time.Second)
	if got := fail(t, a, "ip", "alice", now); got != "" {
		t.Errorf("first failure after an idle spell tripped %q", got)
	}
	if d := allow(t, b, "ip", "alice", now); !d.ok {
		t.Errorf("one failure after an idle spell refused: %+v", d)
	}
	if got := fail(t, b, "ip", "alice", now); got != limiter.ReasonBackoff {
		t.Errorf("second failure of the new run tripped %q, want backoff", got)
	}
}

// testPrune: pruning forgets only what no longer counts.
func testPrune(t *testing.T, nodes Nodes) {
	a, b := nodes(t, open(limiter.Config{FreeFailures: 2, LockAfter: 2, LockFor: time.Hour, AccountFailuresPerHour: 2}))
	fail(t, a, "ip", "alice", T0)
	fail(t, a, "ip", "alice", T0)
	fail(t, a, "other", "bob", T0.Add(-3*time.Hour)) // long gone
	now := T0.Add(59 * time.Minute)
	if _, err := a.Prune(ctx, now); err != nil {
		t.Fatal(err)
	}
	if d := allow(t, b, "ip", "alice", now); d.ok {
		t.Errorf("pruning ended a lock: %+v", d)
	}
	if d := allow(t, b, "elsewhere", "alice", now); d.why != limiter.ReasonAccount {
		t.Errorf("pruning lowered the account's count: %+v", d)
	}
	now = T0.Add(b.Config().PairIdle() + time.Minute)
	if _, err := b.Prune(ctx, now); err != nil {
		t.Fatal(err)
	}
	if d := allow(t, a, "ip", "alice", now); !d.ok {
		t.Errorf("refused once everything was stale: %+v", d)
	}
	if got := fail(t, a, "ip", "alice", now); got != "" {
		t.Errorf("first failure after pruning tripped %q", got)
	}
}
