package limiter

import (
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// Window is the rolling period of the account-wide ceiling: at most
// AccountFailuresPerHour failures in any Window.
const Window = time.Hour

// The facts the policy decides on are store.LoginFacts: a pair's run of
// failures and its latest, an account's failures in the last Window and
// its oldest. Both kinds of state (this process's memory, or a Store
// shared by every node) report the same facts, and Config's methods below
// turn them into decisions: the policy is written once, whichever state
// holds the counts.

// PairIdle is how long a pair's run of failures is remembered without a
// further failure: long enough to outlast a lock and the longest back-off
// with an hour to spare, so a pair that keeps failing stays in its lock
// cycle (one guess per LockFor) instead of earning fresh free failures.
func (c Config) PairIdle() time.Duration { return c.LockFor + c.MaxDelay + Window }

// runStart is the cut-off for a pair's run at now: a pair whose latest
// failure is before it starts again.
func (c Config) runStart(now time.Time) time.Time { return now.Add(-c.PairIdle()) }

// windowStart is the start of the account-wide window at now: failures
// strictly after it count.
func windowStart(now time.Time) time.Time { return now.Add(-Window) }

// pairDelay is how long after its latest failure a pair with n failures
// in its run must wait: nothing for the free failures, then BaseDelay
// doubling per failure up to MaxDelay, and LockFor once LockAfter is
// reached.
func (c Config) pairDelay(n int) time.Duration {
	switch {
	case n >= c.LockAfter:
		return c.LockFor
	case n >= c.FreeFailures:
		return min(c.BaseDelay<<min(n-c.FreeFailures, 30), c.MaxDelay)
	}
	return 0
}

// decide applies the pair rules and then the account-wide ceiling to f
// at now. The per-IP bucket is not a fact of the state: it is checked
// before (Limiter.Allow).
func (c Config) decide(f store.LoginFacts, now time.Time) (ok bool, retryAfter time.Duration, why Reason) {
	if n := f.Pair.Failures; n >= c.FreeFailures {
		// Guarded by n: with no delay due, a clock a little behind the
		// node that recorded Last must not read as a refusal.
		if until := f.Pair.Last.Add(c.pairDelay(n)); now.Before(until) {
			why = ReasonBackoff
			if n >= c.LockAfter {
				why = ReasonLocked
			}
			return false, until.Sub(now), why
		}
	}
	if f.Account.Failures >= c.AccountFailuresPerHour {
		// The oldest counted failure leaves the window then; the server
		// rounds the wait up to whole seconds.
		return false, max(f.Account.Oldest.Add(Window).Sub(now), time.Nanosecond), ReasonAccount
	}
	return true, 0, ""
}

// tripped reports which limit the failure just recorded tripped, given
// the facts after it: only the failure that reaches a threshold reports
// it, so a flood of failures writes one audit event, not one each. The
// account-wide ceiling, the one that concerns the account's owner, wins.
func (c Config) tripped(f store.LoginFacts) Reason {
	switch {
	case f.Account.Failures == c.AccountFailuresPerHour:
		return ReasonAccount
	case f.Pair.Failures == c.LockAfter:
		return ReasonLocked
	case f.Pair.Failures == c.FreeFailures:
		return ReasonBackoff
	}
	return ""
}
