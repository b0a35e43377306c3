// Package limiter is the login brute-force defence: a token bucket per
// client IP, exponential back-off and a temporary lock per (account, IP)
// pair, and an account-wide ceiling on failures per hour.
//
// The policy, and why it is shaped this way (docs/security/lockout.md):
//
//   - Guessing from one address is slowed hard: after FreeFailures failed
//     logins for one account from one IP, each further attempt waits twice
//     as long as the last (BaseDelay, 2×BaseDelay, … up to MaxDelay), and
//     LockAfter failures lock that pair for LockFor.
//   - That lock is per pair, not per account: an attacker on one address
//     cannot lock the real user, on another address, out.
//   - Guessing spread over many addresses meets the account-wide ceiling:
//     at most AccountFailuresPerHour failures in any rolling hour (ASVS
//     6.1.1/6.3.1: ≤ 100 per hour). Over it, attempts wait until the oldest
//     counted failure leaves the hour, so the account is throttled, never
//     locked: a slot frees at least once an hour, and as soon as the attack
//     stops the account opens. The trade-off is stated in the docs: a
//     sustained distributed attack competes with the real user for those
//     slots.
//   - Every source is bounded by its own token bucket (IPRate, IPBurst), so
//     one address cannot spray many accounts either.
//
// Attempts that are refused are refused before the password is checked, so
// a throttled response is no oracle for the password; and the account key
// is the normalised username whether or not such a user exists, so the
// limiter reveals nothing about which accounts exist.
package limiter

import (
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Config is the policy. Zero values take the defaults in Default.
type Config struct {
	IPRate                 rate.Limit    // attempts per second per IP, sustained
	IPBurst                int           // attempts per IP in a burst
	FreeFailures           int           // failures per (account, IP) before back-off
	BaseDelay              time.Duration // first back-off delay
	MaxDelay               time.Duration // back-off ceiling
	LockAfter              int           // failures per (account, IP) that lock the pair
	LockFor                time.Duration // how long a locked pair stays locked
	AccountFailuresPerHour int           // account-wide ceiling before throttling
	MaxEntries             int           // bound on tracked IPs, pairs and accounts each
}

// Default is the policy used when a field is zero.
var Default = Config{
	IPRate:                 rate.Limit(1),
	IPBurst:                20,
	FreeFailures:           3,
	BaseDelay:              time.Second,
	MaxDelay:               time.Minute,
	LockAfter:              10,
	LockFor:                15 * time.Minute,
	AccountFailuresPerHour: 100,
	MaxEntries:             100_000,
}

func (c Config) withDefaults() Config {
	d := Default
	if c.IPRate > 0 {
		d.IPRate = c.IPRate
	}
	if c.IPBurst > 0 {
		d.IPBurst = c.IPBurst
	}
	if c.FreeFailures > 0 {
		d.FreeFailures = c.FreeFailures
	}
	if c.BaseDelay > 0 {
		d.BaseDelay = c.BaseDelay
	}
	if c.MaxDelay > 0 {
		d.MaxDelay = c.MaxDelay
	}
	if c.LockAfter > 0 {
		d.LockAfter = c.LockAfter
	}
	if c.LockFor > 0 {
		d.LockFor = c.LockFor
	}
	if c.AccountFailuresPerHour > 0 {
		d.AccountFailuresPerHour = c.AccountFailuresPerHour
	}
	if c.MaxEntries > 0 {
		d.MaxEntries = c.MaxEntries
	}
	return d
}

// Reason says which rule refused an attempt (for the audit log).
type Reason string

// Reasons.
const (
	ReasonIP      Reason = "ip_rate"
	ReasonBackoff Reason = "backoff"
	ReasonLocked  Reason = "locked"
	ReasonAccount Reason = "account_rate"
)

type pair struct{ account, ip string }

type failures struct {
	n        int
	last     time.Time
	notUntil time.Time
}

// account counts failures per minute over the last hour, so the count
// over any rolling hour is exact to the minute and costs 240 bytes.
type account struct {
	minutes [60]uint32
	stamp   [60]int64 // the Unix minute each slot last counted
}

func (a *account) count(now time.Time) int {
	m := now.Unix() / 60
	n := 0
	for i, c := range a.minutes {
		if m-a.stamp[i] < 60 {
			n += int(c)
		}
	}
	return n
}

// retryAfter is when the oldest counted minute leaves the hour.
func (a *account) retryAfter(now time.Time) time.Duration {
	m := now.Unix() / 60
	oldest := m
	for i, c := range a.minutes {
		if c > 0 && m-a.stamp[i] < 60 && a.stamp[i] < oldest {
			oldest = a.stamp[i]
		}
	}
	return time.Unix((oldest+60)*60, 0).Sub(now)
}

func (a *account) add(now time.Time) {
	m := now.Unix() / 60
	i := m % 60
	if a.stamp[i] != m {
		a.stamp[i], a.minutes[i] = m, 0
	}
	a.minutes[i]++
}

func (a *account) last() int64 {
	return slices.Max(a.stamp[:])
}

type ipEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// Limiter tracks attempts in memory. It is safe for concurrent use.
type Limiter struct {
	cfg Config

	mu        sync.Mutex
	nextSweep time.Time
	ips       map[string]*ipEntry
	pairs     map[pair]*failures
	accounts  map[string]*account
}

// New returns a Limiter with the policy c.
func New(c Config) *Limiter {
	return &Limiter{cfg: c.withDefaults(), ips: map[string]*ipEntry{}, pairs: map[pair]*failures{}, accounts: map[string]*account{}}
}

// Config returns the effective policy.
func (l *Limiter) Config() Config { return l.cfg }

// Allow reports whether a login attempt for account from ip may proceed
// at now; if not, how long until it may, and why.
func (l *Limiter) Allow(ip, acct string, now time.Time) (ok bool, retryAfter time.Duration, why Reason) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)

	if f := l.pairs[pair{acct, ip}]; f != nil && now.Before(f.notUntil) {
		why = ReasonBackoff
		if f.n >= l.cfg.LockAfter {
			why = ReasonLocked
		}
		return false, f.notUntil.Sub(now), why
	}
	if a := l.accounts[acct]; a != nil && a.count(now) >= l.cfg.AccountFailuresPerHour {
		return false, a.retryAfter(now), ReasonAccount
	}
	e := l.ips[ip]
	if e == nil {
		e = &ipEntry{lim: rate.NewLimiter(l.cfg.IPRate, l.cfg.IPBurst)}
		l.ips[ip] = e
	}
	e.seen = now
	if !e.lim.AllowN(now, 1) {
		deficit := 1 - e.lim.TokensAt(now)
		return false, time.Duration(deficit / float64(l.cfg.IPRate) * float64(time.Second)), ReasonIP
	}
	return true, 0, ""
}

// Failure records a failed login (wrong password, unknown or disabled
// user: all the same here) and reports which limit, if any, this failure
// tripped: back-off or lock for the pair, or the account-wide ceiling.
// Only trips are worth an audit event; counting every refused attempt
// would let an attacker fill the audit log.
func (l *Limiter) Failure(ip, acct string, now time.Time) (tripped Reason) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	k := pair{acct, ip}
	f := l.pairs[k]
	if f == nil {
		f = &failures{}
		l.pairs[k] = f
	}
	f.n++
	f.last = now
	switch {
	case f.n >= l.cfg.LockAfter:
		f.notUntil = now.Add(l.cfg.LockFor)
		if f.n == l.cfg.LockAfter {
			tripped = ReasonLocked
		}
	case f.n >= l.cfg.FreeFailures:
		d := l.cfg.BaseDelay << min(f.n-l.cfg.FreeFailures, 30)
		f.notUntil = now.Add(min(d, l.cfg.MaxDelay))
		if f.n == l.cfg.FreeFailures {
			tripped = ReasonBackoff
		}
	}
	a := l.accounts[acct]
	if a == nil {
		a = &account{}
		l.accounts[acct] = a
	}
	a.add(now)
	if a.count(now) == l.cfg.AccountFailuresPerHour {
		tripped = ReasonAccount
	}
	return tripped
}

// Success clears the (account, IP) pair's failures: the user proved they
// know the password from there. The account-wide count stays, so an
// attacker cannot reset it by logging into an account of their own.
func (l *Limiter) Success(ip, acct string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pairs, pair{acct, ip})
}

// sweep drops stale state once a minute, and bounds memory when an
// attacker floods with fresh addresses or names: a map over MaxEntries is
// cut to three quarters of it in one pass (amortised O(1) per call). The
// entries dropped are arbitrary (map order), which can only make the
// limiter more lenient for them, never lock anyone out.
func (l *Limiter) sweep(now time.Time) {
	over := len(l.pairs) > l.cfg.MaxEntries || len(l.accounts) > l.cfg.MaxEntries || len(l.ips) > l.cfg.MaxEntries
	if !over && now.Before(l.nextSweep) {
		return
	}
	l.nextSweep = now.Add(time.Minute)
	keep := l.cfg.MaxEntries * 3 / 4
	stale := l.cfg.LockFor + l.cfg.MaxDelay + time.Hour
	for k, f := range l.pairs {
		if now.Sub(f.last) > stale || len(l.pairs) > keep {
			delete(l.pairs, k)
		}
	}
	for k, a := range l.accounts {
		if now.Unix()/60-a.last() >= 60 || len(l.accounts) > keep {
			delete(l.accounts, k)
		}
	}
	full := time.Duration(float64(l.cfg.IPBurst) / float64(l.cfg.IPRate) * float64(time.Second))
	for k, e := range l.ips {
		if now.Sub(e.seen) > full || len(l.ips) > keep {
			delete(l.ips, k)
		}
	}
}

// Tracked returns how many entries the limiter holds, for tests and metrics.
func (l *Limiter) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ips) + len(l.pairs) + len(l.accounts)
}
