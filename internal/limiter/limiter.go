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
//
// # Policy and state
//
// The policy (policy.go) is arithmetic over facts (store.LoginFacts): a
// pair's run of failures and its latest, an account's failures in the last
// hour and its oldest. Where the facts live is a Store: this process's
// memory (New), or a database every node shares (NewShared), so that the
// account limits hold across a cluster and a lock cannot be dodged by
// landing on another node. The per-IP bucket is always this process's: it
// bounds one node's work, database queries for the limits included.
package limiter

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gatehouse-auth/gatehouse/internal/store"
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

// Store holds the facts about failed logins that the policy decides on.
// The limiter's own in-memory state is one; the PostgreSQL store is the
// other, shared by every node. Times are the callers' clocks. It is
// declared here, where it is consumed, over the store package's records,
// so that a backend implements it without importing the limiter; a
// backend that one node owns (SQLite) does not, and its node counts in
// memory (New).
type Store interface {
	// LoginFailures returns the facts for (account, ip): the pair's run
	// (zero if none), and the account's failures after since with the
	// oldest of them.
	LoginFailures(ctx context.Context, account, ip string, since time.Time) (store.LoginFacts, error)
	// RecordLoginFailure records a failure of (account, ip) at at and
	// returns the facts after it, counting the account's failures after
	// since. A pair whose latest failure is before runStart starts a new
	// run (of one).
	RecordLoginFailure(ctx context.Context, account, ip string, at, runStart, since time.Time) (store.LoginFacts, error)
	// ClearLoginPair ends the pair's run; the account's failures stay.
	ClearLoginPair(ctx context.Context, account, ip string) error
	// PruneLoginFailures forgets pairs whose latest failure is before
	// runStart and account failures at or before since, and returns how
	// many records it deleted. It changes no decision: what it deletes no
	// longer counts.
	PruneLoginFailures(ctx context.Context, runStart, since time.Time) (int, error)
}

// Limiter is the brute-force defence: per-IP buckets in this process and
// the account rules over a Store. It is safe for concurrent use.
type Limiter struct {
	cfg   Config
	ips   *buckets
	state Store
	mem   *memory // state, when it is this process's memory
}

// New returns a Limiter with the policy c, counting in this process's
// memory: exact for one node, per node for several.
func New(c Config) *Limiter {
	c = c.withDefaults()
	m := newMemory(c)
	return &Limiter{cfg: c, ips: newBuckets(c), state: m, mem: m}
}

// NewShared returns a Limiter with the policy c whose account rules count
// in s, which every node shares: a failure on one node counts on all.
// Only the per-IP buckets stay in this process.
func NewShared(c Config, s Store) *Limiter {
	c = c.withDefaults()
	return &Limiter{cfg: c, ips: newBuckets(c), state: s}
}

// Config returns the effective policy.
func (l *Limiter) Config() Config { return l.cfg }

// Allow reports whether a login attempt for account from ip may proceed
// at now; if not, how long until it may, and why. The address's bucket
// comes first and every attempt spends a token, refused or not: an
// address hammering a locked pair runs out too, and with a shared store
// no address gets more database queries than its bucket allows. An error
// (the shared store unreachable) is no permission: the caller must refuse
// the attempt.
func (l *Limiter) Allow(ctx context.Context, ip, acct string, now time.Time) (ok bool, retryAfter time.Duration, why Reason, err error) {
	if ok, retry := l.ips.allow(ip, now); !ok {
		return false, retry, ReasonIP, nil
	}
	f, err := l.state.LoginFailures(ctx, acct, ip, windowStart(now))
	if err != nil {
		return false, 0, "", fmt.Errorf("limiter: %w", err)
	}
	ok, retryAfter, why = l.cfg.decide(f, now)
	return ok, retryAfter, why, nil
}

// Failure records a failed login (wrong password, unknown or disabled
// user: all the same here) and reports which limit, if any, this failure
// tripped: back-off or lock for the pair, or the account-wide ceiling.
// Only trips are worth an audit event; counting every refused attempt
// would let an attacker fill the audit log.
func (l *Limiter) Failure(ctx context.Context, ip, acct string, now time.Time) (tripped Reason, err error) {
	f, err := l.state.RecordLoginFailure(ctx, acct, ip, now, l.cfg.runStart(now), windowStart(now))
	if err != nil {
		return "", fmt.Errorf("limiter: record failure: %w", err)
	}
	return l.cfg.tripped(f), nil
}

// Success clears the (account, IP) pair's failures: the user proved they
// know the password from there. The account-wide count stays, so an
// attacker cannot reset it by logging into an account of their own.
func (l *Limiter) Success(ctx context.Context, ip, acct string, now time.Time) error {
	if err := l.state.ClearLoginPair(ctx, acct, ip); err != nil {
		return fmt.Errorf("limiter: clear pair: %w", err)
	}
	return nil
}

// Prune deletes what no longer counts at now. The in-memory state prunes
// itself as it goes; a shared store needs this run periodically, by any
// node (or all: it is idempotent).
func (l *Limiter) Prune(ctx context.Context, now time.Time) (int, error) {
	n, err := l.state.PruneLoginFailures(ctx, l.cfg.runStart(now), windowStart(now))
	if err != nil {
		return n, fmt.Errorf("limiter: prune: %w", err)
	}
	return n, nil
}

// RunPruner prunes every interval until ctx ends, logging failures; now
// is the clock. Only a shared store needs it.
func (l *Limiter) RunPruner(ctx context.Context, interval time.Duration, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := l.Prune(ctx, now()); err != nil && ctx.Err() == nil {
			log.Warn("pruning login failures failed", "err", err)
		} else if n > 0 {
			log.Debug("pruned login failures", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tracked returns how many entries the limiter holds in this process, for
// tests and metrics.
func (l *Limiter) Tracked() int {
	n := l.ips.tracked()
	if l.mem != nil {
		n += l.mem.tracked()
	}
	return n
}

// buckets are the per-IP token buckets, always this process's own.
type buckets struct {
	rate  rate.Limit
	burst int
	max   int

	mu        sync.Mutex
	nextSweep time.Time
	m         map[string]*ipEntry
}

type ipEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newBuckets(c Config) *buckets {
	return &buckets{rate: c.IPRate, burst: c.IPBurst, max: c.MaxEntries, m: map[string]*ipEntry{}}
}

// allow spends a token of ip's bucket, or says how long until one is due.
func (b *buckets) allow(ip string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweep(now)
	e := b.m[ip]
	if e == nil {
		e = &ipEntry{lim: rate.NewLimiter(b.rate, b.burst)}
		b.m[ip] = e
	}
	e.seen = now
	if !e.lim.AllowN(now, 1) {
		deficit := 1 - e.lim.TokensAt(now)
		return false, time.Duration(deficit / float64(b.rate) * float64(time.Second))
	}
	return true, 0
}

// sweep drops full buckets (an address idle long enough to have refilled
// is the same as a new one) once a minute, and bounds memory as
// memory.sweep does.
func (b *buckets) sweep(now time.Time) {
	if len(b.m) <= b.max && now.Before(b.nextSweep) {
		return
	}
	b.nextSweep = now.Add(time.Minute)
	keep := b.max * 3 / 4
	full := time.Duration(float64(b.burst) / float64(b.rate) * float64(time.Second))
	for k, e := range b.m {
		if now.Sub(e.seen) > full || len(b.m) > keep {
			delete(b.m, k)
		}
	}
}

func (b *buckets) tracked() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

type pair struct{ account, ip string }

// account counts failures per minute over the last hour, so the count
// over any rolling hour is exact to the minute and costs 240 bytes.
type account struct {
	minutes [60]uint32
	stamp   [60]int64 // the Unix minute each slot last counted
}

// facts are the account's failures in the minutes after since's minute
// (the 60 minutes up to now's, since being now − Window), and the start
// of the oldest minute counted.
func (a *account) facts(since time.Time) store.LoginAccountFacts {
	first := since.Unix()/60 + 1
	n, oldest := 0, int64(0)
	for i, c := range a.minutes {
		if c > 0 && a.stamp[i] >= first {
			n += int(c)
			if oldest == 0 || a.stamp[i] < oldest {
				oldest = a.stamp[i]
			}
		}
	}
	if n == 0 {
		return store.LoginAccountFacts{}
	}
	return store.LoginAccountFacts{Failures: n, Oldest: time.Unix(oldest*60, 0)}
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

// memory is the Store of one process. It never fails.
type memory struct {
	cfg Config

	mu        sync.Mutex
	nextSweep time.Time
	pairs     map[pair]*store.LoginPairFacts
	accounts  map[string]*account
}

func newMemory(c Config) *memory {
	return &memory{cfg: c, pairs: map[pair]*store.LoginPairFacts{}, accounts: map[string]*account{}}
}

// LoginFailures implements Store. The account's window is whole minutes:
// see account.
func (m *memory) LoginFailures(_ context.Context, acct, ip string, since time.Time) (store.LoginFacts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(since.Add(Window)) // now
	return m.facts(acct, ip, since), nil
}

func (m *memory) facts(acct, ip string, since time.Time) store.LoginFacts {
	var f store.LoginFacts
	if p := m.pairs[pair{acct, ip}]; p != nil {
		f.Pair = *p
	}
	if a := m.accounts[acct]; a != nil {
		f.Account = a.facts(since)
	}
	return f
}

// RecordLoginFailure implements Store.
func (m *memory) RecordLoginFailure(_ context.Context, acct, ip string, at, runStart, since time.Time) (store.LoginFacts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(at)
	k := pair{acct, ip}
	p := m.pairs[k]
	if p == nil || p.Last.Before(runStart) {
		p = &store.LoginPairFacts{}
		m.pairs[k] = p
	}
	p.Failures++
	p.Last = at
	a := m.accounts[acct]
	if a == nil {
		a = &account{}
		m.accounts[acct] = a
	}
	a.add(at)
	return m.facts(acct, ip, since), nil
}

// ClearLoginPair implements Store.
func (m *memory) ClearLoginPair(_ context.Context, acct, ip string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pairs, pair{acct, ip})
	return nil
}

// PruneLoginFailures implements Store: the memory sweeps itself as it is
// used, so this only forces a sweep.
func (m *memory) PruneLoginFailures(_ context.Context, _, since time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	before := len(m.pairs) + len(m.accounts)
	m.nextSweep = time.Time{}
	m.sweep(since.Add(Window))
	return before - len(m.pairs) - len(m.accounts), nil
}

// sweep drops stale state once a minute, and bounds memory when an
// attacker floods with fresh addresses or names: a map over MaxEntries is
// cut to three quarters of it in one pass (amortised O(1) per call). The
// entries dropped are arbitrary (map order), which can only make the
// limiter more lenient for them, never lock anyone out.
func (m *memory) sweep(now time.Time) {
	over := len(m.pairs) > m.cfg.MaxEntries || len(m.accounts) > m.cfg.MaxEntries
	if !over && now.Before(m.nextSweep) {
		return
	}
	m.nextSweep = now.Add(time.Minute)
	keep := m.cfg.MaxEntries * 3 / 4
	runStart := m.cfg.runStart(now)
	for k, p := range m.pairs {
		if p.Last.Before(runStart) || len(m.pairs) > keep {
			delete(m.pairs, k)
		}
	}
	for k, a := range m.accounts {
		if now.Unix()/60-a.last() >= 60 || len(m.accounts) > keep {
			delete(m.accounts, k)
		}
	}
}

func (m *memory) tracked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pairs) + len(m.accounts)
}
