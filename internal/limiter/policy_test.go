package limiter

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// TestDecide: the policy over facts, whichever state reported them.
func TestDecide(t *testing.T) {
	c := Config{FreeFailures: 3, BaseDelay: time.Second, MaxDelay: 10 * time.Second, LockAfter: 8,
		LockFor: 15 * time.Minute, AccountFailuresPerHour: 100}.withDefaults()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	pair := func(n int, last time.Time) store.LoginFacts {
		return store.LoginFacts{Pair: store.LoginPairFacts{Failures: n, Last: last}}
	}
	for _, tc := range []struct {
		name  string
		f     store.LoginFacts
		ok    bool
		retry time.Duration
		why   Reason
	}{
		{"nothing known", store.LoginFacts{}, true, 0, ""},
		{"free failures", pair(2, now), true, 0, ""},
		{"free failures, clock behind the recorder", pair(2, now.Add(time.Second)), true, 0, ""},
		{"first back-off", pair(3, now), false, time.Second, ReasonBackoff},
		{"back-off partly waited", pair(4, ago(500*time.Millisecond)), false, 1500 * time.Millisecond, ReasonBackoff},
		{"back-off waited out", pair(4, ago(2*time.Second)), true, 0, ""},
		{"back-off capped", pair(7, now), false, 10 * time.Second, ReasonBackoff},
		{"locked", pair(8, ago(time.Minute)), false, 14 * time.Minute, ReasonLocked},
		{"still locked after more", pair(12, now), false, 15 * time.Minute, ReasonLocked},
		{"lock over", pair(12, ago(15*time.Minute)), true, 0, ""},
		{"account under the ceiling", store.LoginFacts{Account: store.LoginAccountFacts{Failures: 99, Oldest: ago(time.Minute)}}, true, 0, ""},
		{"account at the ceiling", store.LoginFacts{Account: store.LoginAccountFacts{Failures: 100, Oldest: ago(20 * time.Minute)}}, false, 40 * time.Minute, ReasonAccount},
		{"pair reported before account", store.LoginFacts{Pair: store.LoginPairFacts{Failures: 8, Last: now}, Account: store.LoginAccountFacts{Failures: 100, Oldest: ago(59 * time.Minute)}},
			false, 15 * time.Minute, ReasonLocked},
		{"account when the pair is free", store.LoginFacts{Pair: store.LoginPairFacts{Failures: 8, Last: ago(time.Hour)}, Account: store.LoginAccountFacts{Failures: 100, Oldest: ago(59 * time.Minute)}},
			false, time.Minute, ReasonAccount},
	} {
		ok, retry, why := c.decide(tc.f, now)
		if ok != tc.ok || retry != tc.retry || why != tc.why {
			t.Errorf("%s: decide = %v, %v, %q; want %v, %v, %q", tc.name, ok, retry, why, tc.ok, tc.retry, tc.why)
		}
	}
}

// TestTripped: only the failure that reaches a threshold reports it.
func TestTripped(t *testing.T) {
	c := Config{FreeFailures: 3, LockAfter: 5, AccountFailuresPerHour: 10}.withDefaults()
	for _, tc := range []struct {
		pair, account int
		want          Reason
	}{
		{1, 1, ""},
		{3, 3, ReasonBackoff},
		{4, 4, ""},
		{5, 5, ReasonLocked},
		{6, 6, ""},
		{1, 10, ReasonAccount},
		{5, 10, ReasonAccount},
		{3, 11, ReasonBackoff},
	} {
		f := store.LoginFacts{Pair: store.LoginPairFacts{Failures: tc.pair}, Account: store.LoginAccountFacts{Failures: tc.account}}
		if got := c.tripped(f); got != tc.want {
			t.Errorf("pair %d, account %d: tripped %q, want %q", tc.pair, tc.account, got, tc.want)
		}
	}
	// lock_after may equal free_failures: the lock is what trips.
	c.LockAfter = c.FreeFailures
	if got := c.tripped(store.LoginFacts{Pair: store.LoginPairFacts{Failures: 3}}); got != ReasonLocked {
		t.Errorf("lock_after = free_failures: tripped %q, want locked", got)
	}
}
