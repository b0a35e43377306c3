package limiter_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/limiter/limitertest"
)

var (
	t0  = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	ctx = context.Background()
)

// allow is Allow for the in-memory limiter, which never fails.
func allow(t *testing.T, l *limiter.Limiter, ip, acct string, now time.Time) (bool, time.Duration, limiter.Reason) {
	t.Helper()
	ok, d, why, err := l.Allow(ctx, ip, acct, now)
	if err != nil {
		t.Fatal(err)
	}
	return ok, d, why
}

// TestScenarios: the behaviour every state shows (limitertest), here with
// the in-memory state, one node being its own other node.
func TestScenarios(t *testing.T) {
	limitertest.Run(t, func(t *testing.T, c limiter.Config) (a, b *limiter.Limiter) {
		l := limiter.New(c)
		return l, l
	})
}

func TestBackoffAndLockArePerPair(t *testing.T) {
	l := limiter.New(limiter.Config{IPRate: 1000, IPBurst: 1000, FreeFailures: 3, BaseDelay: time.Second,
		MaxDelay: time.Minute, LockAfter: 6, LockFor: 15 * time.Minute})
	now := t0
	attacker, user := "198.51.100.7", "203.0.113.5"

	for i := range 3 { // free failures
		if ok, _, _ := allow(t, l, attacker, "alice", now); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		l.Failure(ctx, attacker, "alice", now)
	}
	// Back-off doubles: 1s after the 3rd failure.
	if ok, d, why := allow(t, l, attacker, "alice", now); ok || why != limiter.ReasonBackoff || d != time.Second {
		t.Fatalf("after 3 failures: ok=%v d=%v why=%s", ok, d, why)
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 15 * time.Minute}
	for i, w := range want {
		now = now.Add(time.Hour) // wait out whatever delay applies
		if ok, _, _ := allow(t, l, attacker, "alice", now); !ok {
			t.Fatalf("attempt after waiting refused (%d)", i)
		}
		l.Failure(ctx, attacker, "alice", now)
		ok, d, why := allow(t, l, attacker, "alice", now)
		if ok || d != w {
			t.Fatalf("failure %d: ok=%v d=%v why=%s, want delay %v", 4+i, ok, d, why, w)
		}
		if i == len(want)-1 && why != limiter.ReasonLocked {
			t.Fatalf("6th failure: why=%s, want locked", why)
		}
	}
	// The real user, elsewhere, is not locked out by the attacker.
	if ok, _, why := allow(t, l, user, "alice", now); !ok {
		t.Fatalf("real user refused: %s", why)
	}
	// Another account from the attacker's address is its own pair.
	if ok, _, _ := allow(t, l, attacker, "bob", now); !ok {
		t.Fatal("lock leaked to another account")
	}
	// The lock is temporary.
	if ok, _, _ := allow(t, l, attacker, "alice", now.Add(15*time.Minute)); !ok {
		t.Fatal("lock did not expire")
	}
}

func TestSuccessClearsPair(t *testing.T) {
	l := limiter.New(limiter.Config{IPRate: 1000, IPBurst: 1000, FreeFailures: 2})
	for range 2 {
		l.Failure(ctx, "ip", "alice", t0)
	}
	if ok, _, _ := allow(t, l, "ip", "alice", t0); ok {
		t.Fatal("expected back-off")
	}
	l.Success(ctx, "ip", "alice", t0)
	if ok, _, _ := allow(t, l, "ip", "alice", t0); !ok {
		t.Fatal("success did not clear the back-off")
	}
}

// TestAccountCeiling: failures spread over many addresses cap at the
// hourly ceiling, and the account is throttled to a pace, never locked.
func TestAccountCeiling(t *testing.T) {
	const ceiling = 100
	l := limiter.New(limiter.Config{IPRate: 1000, IPBurst: 1000, AccountFailuresPerHour: ceiling})
	now := t0
	var failedAt []time.Time
	// A botnet tries every 5 seconds for three hours, each from a fresh IP.
	for i := range 3 * 720 {
		ip := "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
		if ok, _, _ := allow(t, l, ip, "alice", now); ok {
			l.Failure(ctx, ip, "alice", now)
			failedAt = append(failedAt, now)
		}
		now = now.Add(5 * time.Second)
	}
	// Never more than the ceiling in any rolling hour.
	for i, ti := range failedAt {
		n := 0
		for _, tj := range failedAt[:i+1] {
			if ti.Sub(tj) < time.Hour {
				n++
			}
		}
		if n > ceiling {
			t.Fatalf("%d failures in the hour before %v, ceiling %d", n, ti, ceiling)
		}
	}
	if len(failedAt) < 2*ceiling {
		t.Fatalf("only %d attempts in three hours: throttled too hard", len(failedAt))
	}
	// The attacker takes whatever slot is free right now...
	for i := 0; ; i++ {
		ip := "192.0.2." + strconv.Itoa(i)
		if ok, _, _ := allow(t, l, ip, "alice", now); !ok {
			break
		}
		l.Failure(ctx, ip, "alice", now)
	}
	// ...yet the account is throttled, not locked: the wait is at most an
	// hour, and once the attack stops the real user gets in.
	ok, d, why := allow(t, l, "203.0.113.5", "alice", now)
	if ok || why != limiter.ReasonAccount || d <= 0 || d > time.Hour {
		t.Fatalf("during attack: ok=%v d=%v why=%s", ok, d, why)
	}
	if ok, _, _ := allow(t, l, "203.0.113.5", "alice", now.Add(d)); !ok {
		t.Fatal("account still closed after the advertised wait")
	}
}

func TestIPBucket(t *testing.T) {
	l := limiter.New(limiter.Config{IPRate: rate.Limit(1), IPBurst: 5})
	for i := range 5 {
		if ok, _, _ := allow(t, l, "ip", "user"+strconv.Itoa(i), t0); !ok {
			t.Fatalf("burst attempt %d refused", i)
		}
	}
	ok, d, why := allow(t, l, "ip", "other", t0)
	if ok || why != limiter.ReasonIP || d <= 0 || d > time.Second {
		t.Fatalf("over burst: ok=%v d=%v why=%s", ok, d, why)
	}
	if ok, _, _ := allow(t, l, "ip", "other", t0.Add(time.Second)); !ok {
		t.Fatal("bucket did not refill")
	}
	if ok, _, _ := allow(t, l, "another-ip", "other", t0); !ok {
		t.Fatal("bucket shared between addresses")
	}
}

func TestMemoryBounded(t *testing.T) {
	l := limiter.New(limiter.Config{MaxEntries: 1000, IPRate: 1000, IPBurst: 1000})
	for i := range 10_000 {
		ip := strconv.Itoa(i)
		allow(t, l, ip, ip, t0)
		l.Failure(ctx, ip, ip, t0)
	}
	if n := l.Tracked(); n > 3*1000+3 {
		t.Fatalf("tracking %d entries, bound 1000 each", n)
	}
}
